//! The store on a full or failing disk (`faults.rs`): a failed write or sync fails only its own
//! batch, with a text safe to show a client; the store takes the next write once the disk
//! does; nothing acknowledged is lost and nothing refused comes back after a restart.

use std::path::Path;

use super::durable::recorder;
use super::faults::{Faults, OS_TEXT};
use super::*;

fn msg(body: &str) -> NewMessage {
    NewMessage {
        reverse_path: "sender@example.org".into(),
        recipients: vec!["rcpt@example.com".into()],
        data: body.as_bytes().to_vec(),
        ..NewMessage::default()
    }
}

fn faulty(dir: &Path) -> (Store, Faults) {
    let faults = Faults::default();
    let store = Store::open_faulty(dir, StoreOptions::default(), &faults).unwrap();
    (store, faults)
}

fn append(store: &Store, body: &str) -> Result<String, StoreError> {
    store.append(msg(body)).wait()
}

/// What a restart finds, and whether the log ends in whole records.
fn recovered(dir: &Path) -> Vec<String> {
    let view = Store::open_read_only(dir).unwrap();
    let Mode::ReadOnly { scanned } = &view.inner.mode else {
        unreachable!("a read-only view")
    };
    let len = std::fs::metadata(dir.join(LOG_FILE)).unwrap().len();
    assert_eq!(
        *scanned.lock().unwrap(),
        len,
        "the log ends in a torn record"
    );
    let ids = view.list().into_iter().map(|m| m.id);
    ids.map(|id| String::from_utf8(view.data(&id).unwrap()).unwrap())
        .collect()
}

#[test]
fn a_full_disk_refuses_appends_until_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let (store, faults) = faulty(dir.path());
    append(&store, "one").unwrap();
    faults.disk_full_after(10);
    let error = append(&store, "two: does not fit").unwrap_err();
    assert!(matches!(error, StoreError::Write(_)), "{error:?}");
    append(&store, "three: nor this").unwrap_err();
    faults.free_space();
    append(&store, "four").expect("the store takes writes again once the disk does");
    append(&store, "five").unwrap();
    drop(store);
    assert_eq!(recovered(dir.path()), ["one", "four", "five"]);
}

#[test]
fn write_errors_show_a_fixed_text_and_keep_the_os_error_as_source() {
    let dir = tempfile::tempdir().unwrap();
    let (store, faults) = faulty(dir.path());
    faults.disk_full_after(3);
    let error = append(&store, "two").unwrap_err();
    assert_eq!(error.to_string(), "insufficient system storage");
    let source = std::error::Error::source(&error).map(ToString::to_string);
    assert!(source.is_some_and(|s| s.contains(OS_TEXT)), "{error:?}");

    faults.free_space();
    faults.fail_syncs(1);
    let error = append(&store, "three").unwrap_err();
    assert_eq!(error.to_string(), "local storage failure");
    assert!(!error.to_string().contains("os error"));
}

#[test]
fn a_failed_sync_fails_its_batch_which_never_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let (store, faults) = faulty(dir.path());
    append(&store, "one").unwrap();
    faults.fail_syncs(1);
    append(&store, "two: written, not synced").unwrap_err();
    append(&store, "three").expect("the store recovers after a failed sync");
    drop(store);
    assert_eq!(recovered(dir.path()), ["one", "three"]);
}

#[test]
fn a_torn_write_that_cannot_be_cut_yet_is_cut_before_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let (store, faults) = faulty(dir.path());
    append(&store, "one").unwrap();
    faults.fail_truncates(true);
    faults.disk_full_after(40);
    append(&store, &"two ".repeat(100)).unwrap_err();
    faults.free_space();
    // The torn record is still there: appending after it would hide this message from the
    // scan on restart, so it is refused.
    append(&store, "three").unwrap_err();
    faults.fail_truncates(false);
    append(&store, "four").unwrap();
    drop(store);
    assert_eq!(recovered(dir.path()), ["one", "four"]);
}

#[test]
fn every_acknowledged_message_survives_a_disk_that_fills_at_any_byte() {
    let record = {
        let dir = tempfile::tempdir().unwrap();
        append(
            &Store::open(dir.path(), StoreOptions::default()).unwrap(),
            "b",
        )
        .unwrap();
        std::fs::metadata(dir.path().join(LOG_FILE)).unwrap().len()
    };
    for space in (0..2 * record + 3).step_by(5) {
        let dir = tempfile::tempdir().unwrap();
        let (store, faults) = faulty(dir.path());
        append(&store, "a").unwrap();
        faults.disk_full_after(space);
        let mut acknowledged = vec!["a"];
        for body in ["b", "c", "d"] {
            if append(&store, body).is_ok() {
                acknowledged.push(body);
            }
        }
        faults.free_space();
        append(&store, "e").unwrap();
        acknowledged.push("e");
        drop(store);
        assert_eq!(
            recovered(dir.path()),
            acknowledged,
            "full after {space} bytes"
        );
    }
}

#[test]
fn new_directories_and_the_new_log_are_synced_in_their_parents() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data").join("store");
    recorder::take();
    drop(Store::open(&dir, StoreOptions::default()).unwrap());
    assert_eq!(
        recorder::take(),
        [root.path().to_path_buf(), root.path().join("data"), dir]
    );
}

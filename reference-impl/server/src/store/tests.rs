//! Store-level tests: durability across reopen, recovery, group commit, read-only views.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Barrier};

use super::*;

fn msg(rcpt: &str, body: &str) -> NewMessage {
    NewMessage {
        reverse_path: "sender@example.org".into(),
        recipients: vec![rcpt.into()],
        metadata: vec![("priority".into(), "high".into())],
        data: body.as_bytes().to_vec(),
        received_at_ms: 1_000,
        protocol: "ESMTP".into(),
        ..NewMessage::default()
    }
}

fn open(dir: &Path) -> Store {
    Store::open(dir, StoreOptions::default()).unwrap()
}

fn append(store: &Store, body: &str) -> String {
    store.append(msg("rcpt@example.com", body)).wait().unwrap()
}

fn log_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(LOG_FILE)).unwrap().len()
}

fn syncs(store: &Store) -> u64 {
    store
        .inner
        .shared
        .syncs
        .load(std::sync::atomic::Ordering::Relaxed)
}

fn bodies(store: &Store) -> Vec<String> {
    let ids = store.list().into_iter().map(|m| m.id);
    ids.map(|id| String::from_utf8(store.data(&id).unwrap()).unwrap())
        .collect()
}

#[test]
fn append_then_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let id = append(&store, "Subject: x\r\n\r\nhello\r\n");
    assert_eq!(id, "000000000001");
    let stored = store.get(&id).unwrap();
    assert_eq!(
        stored.message,
        NewMessage {
            data: Vec::new(),
            ..msg("rcpt@example.com", "")
        }
    );
    assert_eq!(stored.status, DeliveryStatus::Delivered);
    assert_eq!(store.data(&id).unwrap(), b"Subject: x\r\n\r\nhello\r\n");
    assert_eq!(store.status(&id), Some((DeliveryStatus::Delivered, None)));
    assert_eq!(store.for_recipient("rcpt@EXAMPLE.com").len(), 1);
    assert!(store.for_recipient("RCPT@example.com").is_empty());
    assert!(matches!(
        store.data("000000000002"),
        Err(StoreError::NotFound)
    ));
    assert!(store.get("nonsense").is_none());
}

#[test]
fn ids_are_unique_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let first = append(&open(dir.path()), "a");
    let store = open(dir.path());
    let second = append(&store, "b");
    store.remove(std::slice::from_ref(&second)).wait().unwrap();
    drop(store);
    let third = append(&open(dir.path()), "c");
    assert_eq!(
        [first, second, third],
        ["000000000001", "000000000002", "000000000003"]
    );
}

#[test]
fn torn_tail_loses_only_the_torn_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    append(&store, "one");
    let before_last = log_len(dir.path());
    append(&store, "two");
    drop(store);
    // Cut the last record short, as a crash in the middle of its write would.
    let file = OpenOptions::new()
        .write(true)
        .open(dir.path().join(LOG_FILE))
        .unwrap();
    file.set_len(log_len(dir.path()) - 2).unwrap();
    drop(file);

    let store = open(dir.path());
    assert_eq!(bodies(&store), ["one"]);
    assert_eq!(
        log_len(dir.path()),
        before_last,
        "the torn record is cut off"
    );
    append(&store, "three");
    drop(store);
    assert_eq!(bodies(&open(dir.path())), ["one", "three"]);
}

#[test]
fn garbage_and_bad_checksums_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    append(&store, "one");
    let good = log_len(dir.path());
    append(&store, "two");
    drop(store);
    let mut file = OpenOptions::new()
        .append(true)
        .open(dir.path().join(LOG_FILE))
        .unwrap();
    file.write_all(b"\x05\0\0\0garbage").unwrap();
    drop(file);
    assert_eq!(bodies(&open(dir.path())), ["one", "two"]);

    // Flip a byte inside the second record's body: it and everything after it go.
    let mut bytes = std::fs::read(dir.path().join(LOG_FILE)).unwrap();
    let at = bytes.len() - 1;
    bytes[at] ^= 0xFF;
    std::fs::write(dir.path().join(LOG_FILE), &bytes).unwrap();
    let store = open(dir.path());
    assert_eq!(bodies(&store), ["one"]);
    assert_eq!(log_len(dir.path()), good);
    assert_eq!(append(&store, "three"), "000000000002");
}

#[test]
fn status_and_removal_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b, c) = (
        append(&store, "a"),
        append(&store, "b"),
        append(&store, "c"),
    );
    assert!(store.mark_opened(&a, 77).wait().unwrap());
    assert!(!store.mark_opened(&a, 88).wait().unwrap());
    assert!(matches!(
        store.mark_opened("00000000FFFF", 1).wait(),
        Err(StoreError::NotFound)
    ));
    store
        .remove(&[b.clone(), "00000000FFFF".into()])
        .wait()
        .unwrap();
    assert_eq!(store.len(), 2);
    drop(store);

    let store = open(dir.path());
    assert_eq!(store.status(&a), Some((DeliveryStatus::Opened, Some(77))));
    assert!(!store.mark_opened(&a, 99).wait().unwrap());
    assert!(store.get(&b).is_none());
    assert!(matches!(store.data(&b), Err(StoreError::NotFound)));
    assert_eq!(
        store.list().into_iter().map(|m| m.id).collect::<Vec<_>>(),
        [a, c]
    );
}

#[test]
fn concurrent_appends_are_group_committed_and_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let start = Arc::new(Barrier::new(200));
    let threads: Vec<_> = (0..200)
        .map(|i| {
            let (store, start) = (store.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let id = append(&store, &format!("message {i}"));
                (id, i)
            })
        })
        .collect();
    let mut ids: Vec<(String, usize)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        syncs(&store) < 200,
        "{} syncs for 200 appends",
        syncs(&store)
    );
    drop(store);
    ids.sort();
    ids.dedup_by(|a, b| a.0 == b.0);
    assert_eq!(ids.len(), 200, "ids are unique");

    let store = open(dir.path());
    assert_eq!(store.len(), 200);
    for (id, i) in ids {
        assert_eq!(store.data(&id).unwrap(), format!("message {i}").as_bytes());
    }
}

#[test]
fn appends_queued_during_a_commit_share_one_sync() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let pending: Vec<_> = {
        // The writer cannot finish its first batch while the index is locked, so everything
        // queued meanwhile is left for exactly one more batch.
        let _index = write_index(&store.inner.shared);
        (0..100)
            .map(|i| store.append(msg("a@example.com", &i.to_string())))
            .collect()
    };
    let ids: Vec<String> = pending.into_iter().map(|p| p.wait().unwrap()).collect();
    assert_eq!(ids.len(), 100);
    assert!(syncs(&store) <= 2, "{} syncs", syncs(&store));
}

#[test]
fn appends_are_awaitable_from_tokio_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let ids = rt.block_on(async {
        let tasks: Vec<_> = (0..50)
            .map(|i| tokio::spawn(store.append(msg("x@example.com", &i.to_string()))))
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap().unwrap());
        }
        ids
    });
    assert_eq!(ids.len(), 50);
    assert_eq!(store.for_recipient("x@example.com").len(), 50);
}

#[test]
fn read_only_view_follows_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = append(&store, "one");
    let view = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(bodies(&view), ["one"]);

    append(&store, "two");
    assert!(store.mark_opened(&first, 5).wait().unwrap());
    assert_eq!(view.len(), 1, "a view changes only on refresh");
    assert_eq!(view.refresh().unwrap(), 2);
    assert_eq!(bodies(&view), ["one", "two"]);
    assert_eq!(view.status(&first), Some((DeliveryStatus::Opened, Some(5))));
    assert_eq!(view.refresh().unwrap(), 0);
    assert!(matches!(
        view.append(msg("a@b", "c")).wait(),
        Err(StoreError::ReadOnly)
    ));
    assert!(matches!(
        view.remove(&[first]).wait(),
        Err(StoreError::ReadOnly)
    ));
}

#[test]
fn read_only_view_ignores_a_torn_tail_without_cutting_it() {
    let dir = tempfile::tempdir().unwrap();
    append(&open(dir.path()), "one");
    let mut file = OpenOptions::new()
        .append(true)
        .open(dir.path().join(LOG_FILE))
        .unwrap();
    file.write_all(b"\x40\0\0\0\0\0\0\0partial").unwrap();
    let len = log_len(dir.path());
    let view = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(bodies(&view), ["one"]);
    assert_eq!(view.refresh().unwrap(), 0);
    assert_eq!(log_len(dir.path()), len);
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert!(matches!(
        Store::open(dir.path(), StoreOptions::default()),
        Err(StoreError::Locked)
    ));
    drop(store);
    open(dir.path());
}

#[test]
fn power_loss_keeps_every_acknowledged_message_when_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    append(&store, "one");
    append(&store, "two");
    store.simulate_power_loss().wait().unwrap();
    assert!(matches!(
        store.append(msg("a@b", "c")).wait(),
        Err(StoreError::Closed)
    ));
    drop(store);
    assert_eq!(bodies(&open(dir.path())), ["one", "two"]);
}

#[test]
fn ack_before_sync_loses_acknowledged_mail_on_power_loss() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        StoreOptions {
            sync: SyncMode::AckBeforeSync,
        },
    )
    .unwrap();
    append(&store, "one");
    append(&store, "two");
    store.simulate_power_loss().wait().unwrap();
    drop(store);
    assert_eq!(
        bodies(&open(dir.path())),
        ["one"],
        "the last acknowledged batch is gone"
    );
}

//! The store on a simulated disk: the same durability contract as the file, on the runtime's
//! (paused, simulated) clock: an append is acknowledged only after its sync; a power loss
//! before that loses it (or leaves a torn tail that recovery cuts off); AckBeforeSync breaks
//! the contract on purpose.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::*;

const LATENCY: Duration = Duration::from_millis(10);

fn paused() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

fn msg(body: &str) -> NewMessage {
    NewMessage {
        reverse_path: "a@example.org".into(),
        recipients: vec!["b@example.test".into()],
        data: body.as_bytes().to_vec(),
        ..NewMessage::default()
    }
}

fn open(disk: &MemDisk, sync: SyncMode) -> Store {
    let options = SimulatedOptions {
        sync,
        sync_latency: LATENCY,
    };
    Store::open_simulated(disk, options).unwrap()
}

fn is_ready<T>(completion: &mut Completion<T>) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    matches!(Pin::new(completion).poll(&mut cx), Poll::Ready(Ok(_)))
}

fn recovered(disk: &MemDisk) -> Vec<String> {
    let store = Store::open_simulated_read_only(disk).unwrap();
    let ids = store.list().into_iter().map(|m| m.id);
    ids.map(|id| String::from_utf8(store.data(&id).unwrap()).unwrap())
        .collect()
}

#[test]
fn an_append_is_acknowledged_only_once_synced() {
    let disk = MemDisk::new();
    paused().block_on(async {
        let store = open(&disk, SyncMode::Durable);
        let mut pending = store.append(msg("one"));
        tokio::time::sleep(LATENCY / 2).await;
        assert!(!is_ready(&mut pending), "acknowledged before the sync");
        assert!(disk.len() > disk.synced_len(), "written, not yet synced");
        tokio::time::sleep(LATENCY).await;
        assert!(is_ready(&mut pending));
        assert_eq!(disk.len(), disk.synced_len());
    });
    assert_eq!(disk.power_loss(0), 0);
    assert_eq!(recovered(&disk), ["one"]);
}

#[test]
fn a_power_loss_before_the_sync_leaves_a_torn_tail_that_recovery_cuts() {
    let disk = MemDisk::new();
    paused().block_on(async {
        let store = open(&disk, SyncMode::Durable);
        store.append(msg("kept")).await.unwrap();
        let _unacknowledged = store.append(msg("torn"));
        tokio::time::sleep(LATENCY / 2).await;
        let unsynced = disk.len() - disk.synced_len();
        assert!(unsynced > 0);
        assert_eq!(disk.power_loss(unsynced / 2), unsynced - unsynced / 2);
        // The store of before the crash can no longer write.
        assert!(store.append(msg("late")).await.is_err());
        let reopened = open(&disk, SyncMode::Durable);
        assert_eq!(reopened.len(), 1);
        assert_eq!(disk.len(), disk.synced_len(), "the torn tail was cut off");
        let id = reopened.append(msg("after")).await.unwrap();
        assert_eq!(id, "000000000002", "ids go on from the recovered log");
    });
    assert_eq!(recovered(&disk), ["kept", "after"]);
}

#[test]
fn ack_before_sync_loses_acknowledged_mail_on_power_loss() {
    let disk = MemDisk::new();
    paused().block_on(async {
        let store = open(&disk, SyncMode::AckBeforeSync);
        store.append(msg("first")).await.unwrap();
        store.append(msg("second")).await.unwrap();
    });
    disk.power_loss(0);
    assert_eq!(
        recovered(&disk),
        ["first"],
        "the acknowledged second message is gone"
    );
}

#[test]
fn opening_needs_a_runtime() {
    let error = Store::open_simulated(&MemDisk::new(), SimulatedOptions::default()).unwrap_err();
    assert!(error.to_string().contains("tokio runtime"), "{error}");
}

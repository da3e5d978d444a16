//! A one-shot completion that is both a `Future` and blockingly `wait()`-able, without needing
//! any async runtime: the writer thread completes it, a tokio task or a plain thread waits on it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::StoreError;

/// The result of a store operation, available once it is durable (see [`super::SyncMode`]).
///
/// Await it, or call [`Completion::wait`] from a thread that is not driving an async runtime.
/// Dropping it does not cancel the operation.
#[must_use = "the operation happens anyway; await it to learn when it is durable"]
pub struct Completion<T> {
    slot: Arc<Slot<T>>,
}

/// What [`super::Store::append`] returns; resolves to the new message id.
pub type AppendFuture = Completion<String>;
/// What the other writing operations return.
pub type AppendFutureT<T> = Completion<T>;

struct Slot<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

struct State<T> {
    result: Option<Result<T, StoreError>>,
    waker: Option<Waker>,
}

/// The writer's end. Dropping it without completing resolves the completion with `Closed`, so a
/// writer that dies never leaves a waiter hanging.
pub(crate) struct Completer<T> {
    slot: Option<Arc<Slot<T>>>,
}

pub(crate) fn completion<T>() -> (Completer<T>, Completion<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State {
            result: None,
            waker: None,
        }),
        ready: Condvar::new(),
    });
    (
        Completer {
            slot: Some(slot.clone()),
        },
        Completion { slot },
    )
}

impl<T> Slot<T> {
    // A panic while holding this lock cannot leave `State` half-updated (each update is a
    // single assignment), so a poisoned lock is safe to use.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn complete(&self, result: Result<T, StoreError>) {
        let waker = {
            let mut state = self.lock();
            state.result = Some(result);
            state.waker.take()
        };
        self.ready.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Completion<T> {
    /// A completion that is already resolved.
    pub(crate) fn ready(result: Result<T, StoreError>) -> Self {
        let (done, completion) = completion();
        done.complete(result);
        completion
    }

    /// Blocks the calling thread until the operation is done. Do not call it from inside an async
    /// task (it would block the executor); await the completion there.
    pub fn wait(self) -> Result<T, StoreError> {
        let mut state = self.slot.lock();
        loop {
            if let Some(result) = state.result.take() {
                return result;
            }
            state = self
                .slot
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl<T> Future for Completion<T> {
    type Output = Result<T, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.slot.lock();
        match state.result.take() {
            Some(result) => Poll::Ready(result),
            None => {
                match &mut state.waker {
                    Some(waker) => waker.clone_from(cx.waker()),
                    None => state.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl<T> fmt::Debug for Completion<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = self.slot.lock().result.is_some();
        f.debug_struct("Completion").field("done", &done).finish()
    }
}

impl<T> Completer<T> {
    pub(crate) fn complete(mut self, result: Result<T, StoreError>) {
        if let Some(slot) = self.slot.take() {
            slot.complete(result);
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.complete(Err(StoreError::Closed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_sees_a_result_completed_from_another_thread() {
        let (done, completion) = completion::<u32>();
        let t = std::thread::spawn(move || done.complete(Ok(7)));
        assert_eq!(completion.wait().unwrap(), 7);
        t.join().unwrap();
    }

    #[test]
    fn dropped_completer_resolves_closed() {
        let (done, completion) = completion::<()>();
        drop(done);
        assert!(matches!(completion.wait(), Err(StoreError::Closed)));
    }

    #[test]
    fn awaitable_on_tokio() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (done, completion) = completion::<&str>();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            done.complete(Ok("x"));
        });
        assert_eq!(rt.block_on(completion).unwrap(), "x");
        t.join().unwrap();
    }
}

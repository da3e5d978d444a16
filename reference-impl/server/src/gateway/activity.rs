//! What one HTTP connection is doing, for its header and idle timeouts.
//!
//! ```text
//!  accept ──► Waiting{fresh} ──first octet──► Head ──request line and headers read──► Serving
//!                                                                                     │
//!       ┌── the response handed to hyper (its body dropped) ◄──────────────────────────┘
//!       ▼
//!  Waiting{kept alive} ──first octet──► Head ──► ...
//! ```
//!
//! A fresh connection must bring a whole request head within the header timeout of being
//! accepted (a silent socket is closed then). A kept-alive connection may wait the idle
//! timeout for the first octet of its next request, which then starts the header timeout.
//! While a request is being served nothing here runs out: its body has its own deadline
//! ([`super::body`]). The phase is kept beside the socket ([`Watched`] sees the octets) and
//! the service (which sees a request begin and its response leave); the connection's task
//! sleeps until [`Activity::deadline`] and closes the connection when it has passed.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Where a connection is between requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No octet of the next request yet; `fresh` until the first request.
    Waiting { since: Instant, fresh: bool },
    /// Reading a request head that began (or, fresh, whose connection began) at `since`.
    Head { since: Instant },
    /// A request is with the service.
    Serving,
}

/// The header and idle timeouts of one connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
}

/// One connection's phase, shared by its socket, its service and its task.
#[derive(Debug)]
pub(crate) struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
    timeouts: Timeouts,
}

impl Activity {
    pub(super) fn new(now: Instant, timeouts: Timeouts) -> Arc<Self> {
        Arc::new(Self {
            phase: Mutex::new(Phase::Waiting {
                since: now,
                fresh: true,
            }),
            changed: Notify::new(),
            timeouts,
        })
    }

    fn set(&self, update: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        let next = update(*phase);
        if next != *phase {
            *phase = next;
            self.changed.notify_one();
        }
    }

    /// Octets arrived: the first of a request starts its header timeout.
    pub(super) fn read(&self, now: Instant) {
        self.set(|phase| match phase {
            Phase::Waiting { since, fresh: true } => Phase::Head { since },
            Phase::Waiting { fresh: false, .. } => Phase::Head { since: now },
            other => other,
        });
    }

    /// A request head is complete and goes to the service.
    pub(super) fn serving(&self) {
        self.set(|_| Phase::Serving);
    }

    /// The response has been handed over: the connection waits for the next request.
    pub(super) fn answered(&self, now: Instant) {
        self.set(|_| Phase::Waiting {
            since: now,
            fresh: false,
        });
    }

    /// When the connection is to be closed if nothing changes; `None` while serving.
    pub(super) fn deadline(&self) -> Option<Instant> {
        let phase = *self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        match phase {
            Phase::Waiting { since, fresh: true } | Phase::Head { since } => {
                Some(since + self.timeouts.header)
            }
            Phase::Waiting {
                since,
                fresh: false,
            } => Some(since + self.timeouts.idle),
            Phase::Serving => None,
        }
    }

    /// Waits until the phase changes.
    pub(super) async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// A socket that reports the octets it reads to its [`Activity`].
pub(crate) struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    pub(super) fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read(Instant::now());
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_follow_the_phase() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let a = Activity::new(
            t0,
            Timeouts {
                header: s(10),
                idle: s(60),
            },
        );
        // A fresh connection: the header timeout runs from the accept, octets or not.
        assert_eq!(a.deadline(), Some(t0 + s(10)));
        a.read(t0 + s(5));
        assert_eq!(a.deadline(), Some(t0 + s(10)));
        a.serving();
        assert_eq!(a.deadline(), None);
        // Kept alive: idle until the next request's first octet, then its header timeout.
        a.answered(t0 + s(20));
        assert_eq!(a.deadline(), Some(t0 + s(80)));
        a.read(t0 + s(30));
        assert_eq!(a.deadline(), Some(t0 + s(40)));
        a.read(t0 + s(35));
        assert_eq!(a.deadline(), Some(t0 + s(40)));
    }
}

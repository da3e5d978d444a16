//! The connection table: at most `max` connections at once, and who gives up a seat when it is
//! full (SPEC: SMTP-LIMITS-16).
//!
//! A full table does not turn a new client away while a seat is held by a connection that is
//! doing nothing for anyone: one in a TLS handshake (implicit TLS, STARTTLS, ENCRYPT START),
//! or one that has sent nothing since it connected for the preemption grace (the TLS handshake
//! timeout). The oldest such connection is evicted (closed without a reply: mid-handshake none
//! can be sent) and the new client takes its seat. Only when every seat is held by a connection
//! that has spoken does the new client get `421`.
//!
//! Seats are kept in arrival order (a `BTreeMap` by number, so the choice is the same on every
//! run of the simulation).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// What a connection is doing, as far as preemption goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// In a TLS handshake: preemptible at once.
    Handshake,
    /// Connected at `since` and has sent nothing: preemptible after the grace.
    Silent { since: Instant },
    /// Has sent something: keeps its seat.
    Engaged,
}

#[derive(Debug)]
struct Entry {
    state: State,
    evict: Arc<Notify>,
}

#[derive(Debug)]
struct Seats {
    next: u64,
    taken: BTreeMap<u64, Entry>,
}

/// The seats of one server's SMTP listeners.
#[derive(Debug)]
pub(crate) struct ConnectionTable {
    max: usize,
    grace: Duration,
    seats: Arc<Mutex<Seats>>,
}

/// One connection's seat: given back when dropped (however the connection ends).
#[derive(Debug)]
pub(crate) struct Seat {
    id: u64,
    evict: Arc<Notify>,
    seats: Arc<Mutex<Seats>>,
}

// Seats change by whole inserts, removals and state stores: a poisoned lock is consistent.
fn lock(seats: &Mutex<Seats>) -> std::sync::MutexGuard<'_, Seats> {
    seats.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ConnectionTable {
    pub(super) fn new(max: usize, grace: Duration) -> Self {
        Self {
            max,
            grace,
            seats: Arc::new(Mutex::new(Seats {
                next: 0,
                taken: BTreeMap::new(),
            })),
        }
    }

    /// A seat for a new connection (`handshake`: it starts with a TLS handshake), evicting
    /// the oldest preemptible connection when the table is full; `None` when it is full of
    /// connections that have spoken.
    pub(super) fn admit(&self, handshake: bool, now: Instant) -> Option<Seat> {
        let mut seats = lock(&self.seats);
        if seats.taken.len() >= self.max {
            let victim = seats.taken.iter().find_map(|(id, entry)| {
                let preemptible = match entry.state {
                    State::Handshake => true,
                    State::Silent { since } => now.duration_since(since) >= self.grace,
                    State::Engaged => false,
                };
                preemptible.then_some(*id)
            })?;
            let evicted = seats.taken.remove(&victim)?;
            evicted.evict.notify_one();
            tracing::info!(
                seat = victim,
                "connection table full; evicted an idle connection"
            );
        }
        let id = seats.next;
        seats.next += 1;
        let state = if handshake {
            State::Handshake
        } else {
            State::Silent { since: now }
        };
        let evict = Arc::new(Notify::new());
        seats.taken.insert(
            id,
            Entry {
                state,
                evict: evict.clone(),
            },
        );
        Some(Seat {
            id,
            evict,
            seats: self.seats.clone(),
        })
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        lock(&self.seats).taken.len()
    }
}

impl Seat {
    /// A TLS handshake begins (STARTTLS, ENCRYPT START): the seat may be preempted until
    /// [`Seat::engaged`].
    pub(super) fn handshaking(&self) {
        self.set(State::Handshake);
    }

    /// The client has sent something, or completed a handshake it began after speaking.
    pub(super) fn engaged(&self) {
        self.set(State::Engaged);
    }

    fn set(&self, state: State) {
        if let Some(entry) = lock(&self.seats).taken.get_mut(&self.id) {
            entry.state = state;
        }
    }

    /// Resolves when a new connection took this seat: the connection must end.
    pub(super) async fn evicted(&self) {
        self.evict.notified().await;
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        lock(&self.seats).taken.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_table_evicts_the_oldest_handshake_or_long_silent_connection() {
        let table = ConnectionTable::new(3, Duration::from_secs(30));
        let start = Instant::now();
        let silent = table.admit(false, start).unwrap();
        let spoke = table.admit(false, start).unwrap();
        spoke.engaged();
        let tls = table.admit(true, start).unwrap();
        // The handshake goes first; the silent one is not yet past the grace.
        let fresh = table.admit(false, start).unwrap();
        tls.evicted().await;
        assert_eq!(table.len(), 3);
        fresh.engaged();
        assert!(
            table.admit(false, start).is_none(),
            "everyone has spoken or is young"
        );
        let later = start + Duration::from_secs(30);
        let _next = table.admit(false, later).unwrap();
        silent.evicted().await;
        assert!(table.admit(true, later).is_none());
        drop(spoke);
        assert!(table.admit(true, later).is_some());
    }
}

//! Connections per client address, released when each connection ends; shared by the SMTP
//! and MMTP listeners.
//!
//! The MMTP original counted connections per IP and refused the sixth with "Rate limit exceeded",
//! but a refused connection never gave its count back, so five refusals locked an address out
//! for good. Here a slot is a guard: dropping it (the connection task ends, however it ends)
//! releases it, and a refused connection never takes one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Clone, Debug)]
pub(crate) struct PerIpLimit {
    max: usize,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's slot.
#[derive(Debug)]
pub(crate) struct Slot {
    ip: IpAddr,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerIpLimit {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            counts: Arc::default(),
        }
    }

    /// A slot for `ip`, or `None` when it already has `max` connections.
    pub(crate) fn acquire(&self, ip: IpAddr) -> Option<Slot> {
        let ip = ip.to_canonical();
        // Counts change by whole increments only: a poisoned map is still consistent.
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot {
            ip,
            counts: self.counts.clone(),
        })
    }

    /// Open connections from `ip`.
    #[cfg(test)]
    pub(crate) fn count(&self, ip: IpAddr) -> usize {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(&ip.to_canonical()).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_released() {
        let limit = PerIpLimit::new(2);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let a = limit.acquire(ip).unwrap();
        let b = limit.acquire(mapped).unwrap();
        assert!(limit.acquire(ip).is_none());
        assert!(limit.acquire("127.0.0.2".parse().unwrap()).is_some());
        drop(a);
        let c = limit.acquire(ip).unwrap();
        assert_eq!(limit.count(ip), 2);
        drop((b, c));
        assert_eq!(limit.count(ip), 0);
    }
}

//! Failed AUTH exchanges per client address, so that a client that reconnects after every
//! wrong guess gains nothing (SPEC: SMTP-LIMITS-15). Each address may fail a burst of
//! [`AuthFailures::BURST`] times without an address delay; past it, its failures are held to
//! one per base delay (`--auth-failure-delay`), queued in order: a generic cell rate
//! algorithm, so guesses from one address, on any number of connections, come no faster than
//! that. The burst lets a legitimate client (or a conformance suite) that mistypes a few times
//! through untouched; the per-connection schedule (the base, doubled per failure on the
//! connection) applies on top.
//!
//! The record is bounded: an address is forgotten once it owes nothing, and when
//! [`AuthFailures::MAX_ADDRESSES`] are remembered a new one replaces the one that owes least. A
//! `BTreeMap`, so that nothing the simulation drives depends on hash order.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Recent failed AUTH exchanges by client address: for each, the instant at which all its
/// failures so far would have been paid for at one per base delay.
#[derive(Debug, Default)]
pub(crate) struct AuthFailures {
    paid_at: Mutex<BTreeMap<IpAddr, Instant>>,
}

impl AuthFailures {
    /// Failures an address may have in quick succession before its failures are rate limited.
    pub(super) const BURST: u32 = 20;
    /// Addresses remembered at once.
    pub(super) const MAX_ADDRESSES: usize = 4096;

    /// Records one failure from `ip` at `now`; returns how long its reply must wait so that
    /// the address's failures come no faster than one per `interval` beyond the burst.
    pub(super) fn record(&self, ip: IpAddr, now: Instant, interval: Duration) -> Duration {
        if interval.is_zero() {
            return Duration::ZERO;
        }
        let ip = ip.to_canonical();
        // Entries are replaced whole: a poisoned map is still consistent.
        let mut paid_at = self.paid_at.lock().unwrap_or_else(PoisonError::into_inner);
        if !paid_at.contains_key(&ip) && paid_at.len() >= Self::MAX_ADDRESSES {
            paid_at.retain(|_, at| *at > now);
            if paid_at.len() >= Self::MAX_ADDRESSES {
                let least = paid_at.iter().min_by_key(|(_, at)| **at).map(|(ip, _)| *ip);
                if let Some(least) = least {
                    paid_at.remove(&least);
                }
            }
        }
        let owed_from = paid_at
            .get(&ip)
            .copied()
            .filter(|at| *at > now)
            .unwrap_or(now);
        let burst = interval.saturating_mul(Self::BURST);
        // This failure may be answered once what the address owes fits in the burst again.
        let delay = owed_from
            .checked_sub(burst)
            .map_or(Duration::ZERO, |allowed| {
                allowed.saturating_duration_since(now)
            });
        paid_at.insert(ip, owed_from + interval);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test(start_paused = true)]
    async fn past_the_burst_an_address_fails_once_per_interval_on_any_connection() {
        let failures = AuthFailures::default();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let now = Instant::now();
        for _ in 0..AuthFailures::BURST {
            assert_eq!(failures.record(a, now, SECOND), Duration::ZERO);
        }
        // Queued one interval apart, the IPv4-mapped form counting as the same address.
        assert_eq!(failures.record(mapped, now, SECOND), Duration::ZERO);
        assert_eq!(failures.record(a, now, SECOND), SECOND);
        assert_eq!(failures.record(a, now, SECOND), 2 * SECOND);
        assert_eq!(
            failures.record(b, now, SECOND),
            Duration::ZERO,
            "another address"
        );
        // Waiting pays the debt back at one failure per interval.
        let later = now + 30 * SECOND;
        assert_eq!(failures.record(a, later, SECOND), Duration::ZERO);
        assert_eq!(
            failures.record(a, now, Duration::ZERO),
            Duration::ZERO,
            "no delay"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_record_is_bounded_and_drops_the_address_owing_least() {
        let failures = AuthFailures::default();
        let start = Instant::now();
        for n in 0..AuthFailures::MAX_ADDRESSES as u32 {
            let ip = IpAddr::from(n.to_be_bytes());
            failures.record(ip, start + Duration::from_millis(u64::from(n)), SECOND);
        }
        let newcomer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(failures.record(newcomer, start, SECOND), Duration::ZERO);
        let paid_at = failures.paid_at.lock().unwrap();
        assert_eq!(paid_at.len(), AuthFailures::MAX_ADDRESSES);
        assert!(!paid_at.contains_key(&IpAddr::from(0u32.to_be_bytes())));
    }
}

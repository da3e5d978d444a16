//! The clocks of one SMTP connection, kept out of the sans-io session (which has none): when
//! the next read must have arrived (idle timeout, the deadline of a command line, the minimum
//! data rate) and how long the reply to a failed AUTH waits.
//!
//! Nothing here looks at a verb. A command line is over when the session answers it: every
//! line gets a reply as soon as it is complete, so "no reply since" is "no complete line
//! since". The data phase is what [`ServerSession::in_data`] says.
//!
//! [`ServerSession::in_data`]: mtp_proto::smtp::server::ServerSession::in_data

use std::time::Duration;

use tokio::time::Instant;

/// The timer settings every connection of a server shares.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerConfig {
    /// Silence between two reads.
    pub idle: Duration,
    /// From a reply until the next command line is complete.
    pub command: Duration,
    /// Octets per second the data phase must average once `data_grace` has passed; 0 turns
    /// the check off.
    pub min_data_rate: u64,
    pub data_grace: Duration,
    /// The delay before the first failed AUTH's reply; it doubles with each further failure
    /// up to [`AUTH_DELAY_CAP`]; zero turns it off.
    pub auth_failure_delay: Duration,
}

/// The longest wait before one failed AUTH's reply.
pub(crate) const AUTH_DELAY_CAP: Duration = Duration::from_secs(30);

/// The read deadline of one connection.
#[derive(Debug)]
pub(crate) struct Deadlines {
    config: TimerConfig,
    last_reply: Instant,
    /// When the data phase began and the octets received in it since.
    data: Option<(Instant, u64)>,
}

impl Deadlines {
    pub(super) fn new(config: TimerConfig, now: Instant) -> Self {
        Self {
            config,
            last_reply: now,
            data: None,
        }
    }

    /// A reply was written: the client has a new command line to send.
    pub(super) fn replied(&mut self, now: Instant) {
        self.last_reply = now;
    }

    /// `octets` were received; `in_data` is the session's phase after taking them.
    pub(super) fn received(&mut self, now: Instant, octets: usize, in_data: bool) {
        self.data = match (self.data, in_data) {
            (_, false) => None,
            // The read that began the phase may hold the command before the data too.
            (None, true) => Some((now, 0)),
            (Some((start, total)), true) => Some((start, total.saturating_add(octets as u64))),
        };
    }

    /// When the next read must be complete, measured from `now`, the start of the read.
    pub(super) fn read_deadline(&self, now: Instant) -> Instant {
        let idle = now + self.config.idle;
        let phase = match self.data {
            None => self.last_reply + self.config.command,
            Some(_) if self.config.min_data_rate == 0 => return idle,
            Some((start, octets)) => {
                // The time by which `octets` would fall below the minimum average rate.
                let earned =
                    Duration::from_secs_f64(octets as f64 / self.config.min_data_rate as f64);
                start + self.config.data_grace.max(earned)
            }
        };
        idle.min(phase)
    }
}

/// How long the reply to the `failures`-th failed AUTH of a connection waits: the base,
/// doubled per earlier failure, at most [`AUTH_DELAY_CAP`].
pub(crate) fn auth_failure_delay(base: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let doublings = failures.saturating_sub(1).min(16);
    base.saturating_mul(1 << doublings).min(AUTH_DELAY_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TimerConfig {
        TimerConfig {
            idle: Duration::from_secs(300),
            command: Duration::from_secs(60),
            min_data_rate: 100,
            data_grace: Duration::from_secs(10),
            auth_failure_delay: Duration::from_secs(1),
        }
    }

    #[test]
    fn a_command_line_must_be_complete_within_its_deadline_however_often_bytes_come() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(config(), start);
        for second in 1..50 {
            let now = start + Duration::from_secs(second);
            deadlines.received(now, 1, false);
            assert_eq!(
                deadlines.read_deadline(now),
                start + Duration::from_secs(60)
            );
        }
        let later = start + Duration::from_secs(70);
        deadlines.replied(later);
        assert_eq!(
            deadlines.read_deadline(later),
            later + Duration::from_secs(60)
        );
    }

    #[test]
    fn the_data_phase_must_keep_the_minimum_average_rate_after_the_grace() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(config(), start);
        deadlines.received(start, 10, true);
        assert_eq!(
            deadlines.read_deadline(start),
            start + Duration::from_secs(10)
        );
        let now = start + Duration::from_secs(5);
        deadlines.received(now, 2_000, true);
        assert_eq!(
            deadlines.read_deadline(now),
            start + Duration::from_secs(20)
        );
        deadlines.received(now, 1, false);
        assert_eq!(
            deadlines.read_deadline(now),
            start + Duration::from_secs(60)
        );
    }

    #[test]
    fn the_idle_timeout_still_bounds_each_read() {
        let start = Instant::now();
        let mut config = config();
        config.idle = Duration::from_secs(2);
        let deadlines = Deadlines::new(config, start);
        assert_eq!(
            deadlines.read_deadline(start),
            start + Duration::from_secs(2)
        );
    }

    #[test]
    fn failed_auth_delays_double_up_to_the_cap() {
        let base = Duration::from_secs(1);
        let delays: Vec<u64> = (0..8)
            .map(|n| auth_failure_delay(base, n).as_secs())
            .collect();
        assert_eq!(delays, [0, 1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(auth_failure_delay(Duration::ZERO, 5), Duration::ZERO);
        assert_eq!(auth_failure_delay(base, u32::MAX), AUTH_DELAY_CAP);
    }
}

//! When each client's path to the server was disturbed (its link partitioned or held, the
//! server down, the network lossy). The protocol's one ambiguity, a message stored whose 250
//! never reached the client, can only happen then: on a healthy path a copy stored without a
//! reply is a server bug, not bad luck.

use std::collections::BTreeMap;
use std::time::Duration;

use super::scenario::SERVER;

/// Intervals `[from, to]`; `to` is `None` while the disturbance lasts.
type Intervals = Vec<(Duration, Option<Duration>)>;

/// The disturbance windows of one run, in simulated time: per client its link to the server,
/// and for everyone the server's downtime and the network's lossy period.
#[derive(Debug, Default)]
pub struct Disturbances {
    /// Per client host: its link to the server.
    links: BTreeMap<String, Intervals>,
    /// Everyone: the server down, random loss on every link.
    global: Intervals,
}

impl Disturbances {
    /// A link between `a` and `b` stops working; only links to the server matter.
    pub fn link_down(&mut self, a: &str, b: &str, at: Duration) {
        if let Some(client) = client_of(a, b) {
            open(self.links.entry(client.to_string()).or_default(), at);
        }
    }

    /// The link between `a` and `b` works again (repaired or released).
    pub fn link_up(&mut self, a: &str, b: &str, at: Duration) {
        if let Some(client) = client_of(a, b) {
            close(self.links.entry(client.to_string()).or_default(), at);
        }
    }

    /// The server crashed or lost power: every client's path is disturbed from `at`.
    pub fn server_down(&mut self, at: Duration) {
        open(&mut self.global, at);
    }

    /// The server is back (restarted) at `at`.
    pub fn server_up(&mut self, at: Duration) {
        close(&mut self.global, at);
    }

    /// Random loss on every link until `until`.
    pub fn lossy(&mut self, until: Duration) {
        self.global.push((Duration::ZERO, Some(until)));
    }

    /// Everything heals at `at`.
    pub fn heal(&mut self, at: Duration) {
        close(&mut self.global, at);
        for intervals in self.links.values_mut() {
            close(intervals, at);
        }
    }

    /// Whether `client`'s path was disturbed at some moment of `[from, to]`.
    pub fn touches(&self, client: &str, from: Duration, to: Duration) -> bool {
        let link = self.links.get(client).into_iter().flatten();
        link.chain(&self.global)
            .any(|&(start, end)| start <= to && end.is_none_or(|end| end >= from))
    }
}

fn client_of<'a>(a: &'a str, b: &'a str) -> Option<&'a str> {
    match (a == SERVER, b == SERVER) {
        (true, false) => Some(b),
        (false, true) => Some(a),
        _ => None,
    }
}

fn open(intervals: &mut Intervals, at: Duration) {
    if !intervals.last().is_some_and(|(_, end)| end.is_none()) {
        intervals.push((at, None));
    }
}

fn close(intervals: &mut Intervals, at: Duration) {
    if let Some((_, end @ None)) = intervals.last_mut() {
        *end = Some(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn windows_overlap_link_and_server_disturbances() {
        let mut d = Disturbances::default();
        d.link_down("c1", SERVER, s(2));
        d.link_up(SERVER, "c1", s(4));
        d.server_down(s(10));
        d.server_up(s(11));
        assert!(d.touches("c1", s(3), s(5)));
        assert!(!d.touches("c1", s(5), s(6)));
        assert!(!d.touches("c2", s(3), s(5)));
        assert!(d.touches("c2", s(9), s(10)));
        d.link_down("c2", "c3", s(20));
        assert!(
            !d.touches("c2", s(20), s(21)),
            "a link between clients does not count"
        );
    }
}

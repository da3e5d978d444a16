//! The faults the proxy injects, as `--fault` writes them, and the watcher that finds the
//! moment a message's data ends (the server said 354, the client sent `CRLF.CRLF`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use mtpspec_runner::units::parse_duration;

/// One fault; several combine (latency and a cut, say).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every chunk waits this long before it is passed on, both ways.
    Latency(Duration),
    /// Client bytes reach the server one write per byte, with this pause between them.
    Bytewise(Duration),
    /// After this many client octets the client's bytes stop for a while, once per connection.
    Stall {
        /// Client octets passed on before the stall.
        after: u64,
        /// How long the client's bytes are held back.
        pause: Duration,
    },
    /// Both connections are closed once this many client octets have been passed on.
    Cut(u64),
    /// The end-of-data dot reaches the server, then the client's connection is closed at once;
    /// the server's reply is read (and reported) but never reaches the client.
    CutAfterDot,
    /// The end-of-data dot reaches the server, then both connections are closed at once.
    ResetAfterDot,
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (name, value) = text
            .split_once('=')
            .map_or((text, None), |(n, v)| (n, Some(v)));
        let duration = |v: Option<&str>| -> Result<Duration, String> {
            parse_duration(v.ok_or_else(|| format!("`{name}` needs a value, e.g. {name}=100ms"))?)
        };
        let octets = |v: &str| -> Result<u64, String> {
            v.parse()
                .map_err(|_| format!("{v:?} is not a number of octets"))
        };
        match (name, value) {
            ("latency", v) => Ok(Self::Latency(duration(v)?)),
            ("bytewise", None) => Ok(Self::Bytewise(Duration::ZERO)),
            ("bytewise", v) => Ok(Self::Bytewise(duration(v)?)),
            ("stall", Some(v)) => {
                let (after, pause) = v
                    .split_once(':')
                    .ok_or("stall=OCTETS:DURATION, e.g. stall=100:5s")?;
                Ok(Self::Stall {
                    after: octets(after)?,
                    pause: parse_duration(pause)?,
                })
            }
            ("cut", Some(v)) => Ok(Self::Cut(octets(v)?)),
            ("cut-after-dot", None) => Ok(Self::CutAfterDot),
            ("reset-after-dot", None) => Ok(Self::ResetAfterDot),
            _ => Err(format!(
                "unknown fault {text:?}: latency=DUR, bytewise[=DUR], stall=OCTETS:DUR, \
                 cut=OCTETS, cut-after-dot, reset-after-dot"
            )),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latency(d) => write!(f, "latency={d:?}"),
            Self::Bytewise(d) => write!(f, "bytewise={d:?}"),
            Self::Stall { after, pause } => write!(f, "stall={after}:{pause:?}"),
            Self::Cut(n) => write!(f, "cut={n}"),
            Self::CutAfterDot => f.write_str("cut-after-dot"),
            Self::ResetAfterDot => f.write_str("reset-after-dot"),
        }
    }
}

/// Follows a session from both sides to find where message data ends.
#[derive(Debug, Default)]
pub struct DotWatcher {
    /// Server bytes not yet forming a whole line.
    line: Vec<u8>,
    in_data: bool,
    /// The last client bytes of the data, to find the terminator across reads.
    tail: Vec<u8>,
}

impl DotWatcher {
    /// Bytes from the server: a 354 reply opens the message data.
    pub fn server(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.line.push(b);
            if b == b'\n' {
                if self.line.starts_with(b"354") {
                    self.in_data = true;
                    // The data starts at a line start: a lone "." ends it at once.
                    self.tail = b"\r\n".to_vec();
                }
                self.line.clear();
            }
        }
    }

    /// Bytes from the client: the offset just past the end-of-data dot, if they hold it.
    pub fn client(&mut self, bytes: &[u8]) -> Option<usize> {
        if !self.in_data {
            return None;
        }
        let before = self.tail.len();
        self.tail.extend_from_slice(bytes);
        match self.tail.windows(5).position(|w| w == b"\r\n.\r\n") {
            Some(at) => {
                self.in_data = false;
                self.tail.clear();
                Some(at + 5 - before)
            }
            None => {
                let keep = self.tail.len().saturating_sub(4);
                self.tail.drain(..keep);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_faults() {
        assert_eq!(
            "latency=50ms".parse(),
            Ok(Fault::Latency(Duration::from_millis(50)))
        );
        assert_eq!("bytewise".parse(), Ok(Fault::Bytewise(Duration::ZERO)));
        let stall = Fault::Stall {
            after: 100,
            pause: Duration::from_secs(5),
        };
        assert_eq!("stall=100:5s".parse(), Ok(stall));
        assert_eq!("cut=42".parse(), Ok(Fault::Cut(42)));
        assert_eq!("cut-after-dot".parse(), Ok(Fault::CutAfterDot));
        assert!("cut".parse::<Fault>().is_err());
        assert!("jitter=5ms".parse::<Fault>().is_err());
    }

    #[test]
    fn finds_the_end_of_data_across_reads() {
        let mut watch = DotWatcher::default();
        assert_eq!(watch.client(b"DATA\r\n"), None);
        watch.server(b"354 go on\r\n");
        assert_eq!(watch.client(b"Subject: x\r\n\r\nbody\r\n."), None);
        assert_eq!(watch.client(b"\r\nQUIT\r\n"), Some(2));
        assert_eq!(watch.client(b"\r\n.\r\n"), None, "no data is open any more");
        watch.server(b"250 ok\r\n354 again\r\n");
        assert_eq!(watch.client(b".\r\n"), Some(3), "an empty message");
    }
}

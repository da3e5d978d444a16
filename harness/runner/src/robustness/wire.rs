//! Reading SMTP replies off a raw stream, for the attacking connections and the fresh client:
//! just enough to tell a 220 from a 421, a close from a timeout. No verb is ever parsed here.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Why no reply came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoReply {
    /// Nothing complete within the time allowed.
    Timeout,
    /// The server closed the connection (EOF).
    Closed,
    /// A read error, such as a reset.
    Error(String),
    /// A line that is no SMTP reply line.
    Garbage(String),
}

impl std::fmt::Display for NoReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str("no reply in time"),
            Self::Closed => f.write_str("closed by the server"),
            Self::Error(e) => write!(f, "read error: {e}"),
            Self::Garbage(line) => write!(f, "not a reply: {line:?}"),
        }
    }
}

/// One complete reply: its code and the text of its last line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The reply code, 200 to 599.
    pub code: u16,
    /// The last line's text after the code and separator, trailing white space removed.
    pub text: String,
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

/// A stream and the octets read from it but not yet consumed.
pub struct ReplyReader<S> {
    /// The stream read from; octets read but not yet consumed are kept apart.
    pub stream: S,
    pending: Vec<u8>,
}

impl<S: AsyncRead + Unpin> ReplyReader<S> {
    /// A reader of `stream` that has read nothing yet.
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            pending: Vec::new(),
        }
    }

    /// The next complete reply (multi-line replies joined), within `timeout` in all.
    pub async fn reply(&mut self, timeout: Duration) -> Result<Reply, NoReply> {
        match tokio::time::timeout(timeout, self.reply_untimed()).await {
            Ok(result) => result,
            Err(_) => Err(NoReply::Timeout),
        }
    }

    async fn reply_untimed(&mut self) -> Result<Reply, NoReply> {
        loop {
            while let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.pending.drain(..end + 2).collect();
                if let Some(reply) = last_line(&line[..end])? {
                    return Ok(reply);
                }
            }
            if self.pending.len() > 64 * 1024 {
                return Err(NoReply::Garbage("a line over 64 KiB".into()));
            }
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf).await {
                Ok(0) => return Err(NoReply::Closed),
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) => return Err(NoReply::Error(e.to_string())),
            }
        }
    }
}

/// `Some` for the last line of a reply (`250 ok`), `None` for a continuation (`250-x`).
fn last_line(line: &[u8]) -> Result<Option<Reply>, NoReply> {
    let text = String::from_utf8_lossy(line);
    let code = text
        .get(..3)
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|c| (200..600).contains(c))
        .ok_or_else(|| NoReply::Garbage(text.chars().take(80).collect()))?;
    match line.get(3) {
        Some(b'-') => Ok(None),
        _ => Ok(Some(Reply {
            code,
            text: text.get(4..).unwrap_or("").trim_end().to_string(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_single_and_multiline_replies() {
        let data: &[u8] = b"220 hi\r\n250-one\r\n250 two\r\n";
        let mut reader = ReplyReader::new(data);
        let t = Duration::from_secs(1);
        assert_eq!(reader.reply(t).await.unwrap().code, 220);
        let two = reader.reply(t).await.unwrap();
        assert_eq!((two.code, two.text.as_str()), (250, "two"));
        assert_eq!(reader.reply(t).await, Err(NoReply::Closed));
        let mut junk = ReplyReader::new(&b"hello\r\n"[..]);
        assert!(matches!(junk.reply(t).await, Err(NoReply::Garbage(_))));
    }
}

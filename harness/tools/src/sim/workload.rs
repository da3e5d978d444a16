//! The messages a simulated client sends, and how a stored message is traced back to the
//! client, message and attempt it came from: every attempt puts `X-Sim: HOST N TRY` on the
//! first line, so the checks can tell an acknowledged copy from the copy of an attempt whose
//! reply was lost.

use mtp_proto::smtp::Mailbox;
use mtp_proto::smtp::client::Message;

use super::scenario::ClientSpec;
use crate::rng::Rng;

/// The domain the server delivers locally.
pub const LOCAL_DOMAIN: &str = "example.test";

const WORDS: [&str; 12] = [
    "mail",
    "durable",
    "seed",
    "turmoil",
    "replay",
    "fault",
    "queue",
    "retry",
    "crash",
    "link",
    "partition",
    "reply",
];

/// The messages of one client host, in order; message `i` is the `i`th of the list.
pub fn plan(spec: &ClientSpec, host: &str, rng: &mut Rng) -> Vec<Message> {
    let sender = Mailbox {
        local_part: host.to_string(),
        domain: "clients.example".into(),
    };
    let recipients: Vec<Mailbox> = (1..=spec.recipients)
        .map(|k| Mailbox {
            local_part: format!("rcpt{k}"),
            domain: LOCAL_DOMAIN.into(),
        })
        .collect();
    (0..spec.messages as usize)
        .map(|i| Message {
            reverse_path: Some(sender.clone()),
            recipients: recipients.clone(),
            data: body(host, i, spec.body, rng),
            metadata: (1..=spec.metadata)
                .map(|k| (format!("k{k}"), format!("{host}-{i}-v{k}")))
                .collect(),
            read_ack: spec.read_ack,
        })
        .collect()
}

/// Headers and about `size` octets of text lines, some starting with a dot (so that the
/// data is dot-stuffed on the wire).
fn body(host: &str, index: usize, size: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = format!(
        "Message-ID: <{index}.{host}@clients.example>\r\nSubject: simulated message {index} \
         from {host}\r\n\r\n"
    )
    .into_bytes();
    let mut line = 0;
    while out.len() < size {
        if line % 7 == 3 {
            out.push(b'.');
        }
        let words = 3 + rng.below(9);
        let text: Vec<&str> = (0..words)
            .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
            .collect();
        out.extend_from_slice(text.join(" ").as_bytes());
        out.extend_from_slice(b"\r\n");
        line += 1;
    }
    out
}

/// The message as sent in one attempt.
pub fn for_attempt(base: &Message, host: &str, index: usize, attempt: u32) -> Message {
    let mut data = format!("X-Sim: {host} {index} {attempt}\r\n").into_bytes();
    data.extend_from_slice(&base.data);
    Message {
        data,
        ..base.clone()
    }
}

/// Where a stored message came from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    /// The client host that sent it.
    pub host: String,
    /// The message's position in that client's plan.
    pub index: usize,
    /// Which attempt of the message (1 for the first).
    pub attempt: u32,
}

/// Reads the `X-Sim` line of stored message data.
pub fn origin(data: &[u8]) -> Option<Origin> {
    let end = data.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&data[..end]).ok()?;
    let mut words = line.strip_prefix("X-Sim: ")?.split(' ');
    let origin = Origin {
        host: words.next()?.to_string(),
        index: words.next()?.parse().ok()?,
        attempt: words.next()?.parse().ok()?,
    };
    words.next().is_none().then_some(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_is_traced_back_from_its_data() {
        let spec: ClientSpec =
            serde_saphyr::from_str("{ name: c, messages: 2, body: 300, metadata: 1 }").unwrap();
        let plan = plan(&spec, "c", &mut Rng::new(1));
        assert_eq!(plan.len(), 2);
        assert!(plan[0].data.len() >= 300);
        assert!(
            plan[0].data.windows(2).any(|w| w == b"\n."),
            "some lines need dot-stuffing"
        );
        let sent = for_attempt(&plan[1], "c", 1, 3);
        let expected = Origin {
            host: "c".into(),
            index: 1,
            attempt: 3,
        };
        assert_eq!(origin(&sent.data), Some(expected));
        assert_eq!(origin(b"Subject: x\r\n"), None);
    }
}

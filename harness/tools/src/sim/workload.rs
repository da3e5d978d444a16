//! The messages a simulated client sends, and how a stored message is traced back to the
//! client, message and attempt it came from: every attempt puts `X-Sim: HOST N TRY` on the
//! first line, so the checks can tell an acknowledged copy from the copy of an attempt whose
//! reply was lost. For a next hop, whose checks also judge transactions that never reach the
//! data, the sender names the message too (`HOST.N@clients.example`), and the body starts
//! with a line of a lone "." (the line dot-stuffing matters most for).

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

/// The domain of the clients' senders.
const SENDER_DOMAIN: &str = "clients.example";

/// The messages of one client host, in order; message `i` is the `i`th of the list.
/// `outbound` (a next hop's clients): each sender names its message, each body starts with a
/// lone ".".
pub fn plan(spec: &ClientSpec, host: &str, rng: &mut Rng, outbound: bool) -> Vec<Message> {
    let sender = |i: usize| Mailbox {
        local_part: if outbound {
            format!("{host}.{i}")
        } else {
            host.to_string()
        },
        domain: SENDER_DOMAIN.into(),
    };
    let recipients: Vec<Mailbox> = (1..=spec.recipients)
        .map(|k| Mailbox {
            local_part: format!("rcpt{k}"),
            domain: LOCAL_DOMAIN.into(),
        })
        .collect();
    (0..spec.messages as usize)
        .map(|i| Message {
            reverse_path: Some(sender(i)),
            recipients: recipients.clone(),
            data: body(host, i, spec.body, rng, outbound),
            metadata: (1..=spec.metadata)
                .map(|k| (format!("k{k}"), format!("{host}-{i}-v{k}")))
                .collect(),
            read_ack: spec.read_ack,
        })
        .collect()
}

/// Headers and about `size` octets of text lines, some starting with a dot (so that the
/// data is dot-stuffed on the wire).
fn body(host: &str, index: usize, size: usize, rng: &mut Rng, lone_dot: bool) -> Vec<u8> {
    let mut out = format!(
        "Message-ID: <{index}.{host}@clients.example>\r\nSubject: simulated message {index} \
         from {host}\r\n\r\n"
    )
    .into_bytes();
    if lone_dot {
        out.extend_from_slice(b".\r\n");
    }
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

/// The client host and message index a sender of [`plan`]'s outbound form names
/// (`HOST.N@clients.example`).
pub fn message_of_sender(path: &str) -> Option<(String, usize)> {
    let (local, domain) = path.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(SENDER_DOMAIN) {
        return None;
    }
    let (host, index) = local.rsplit_once('.')?;
    Some((host.to_string(), index.parse().ok()?))
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
        let plan = plan(&spec, "c", &mut Rng::new(1), false);
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
        assert_eq!(message_of_sender("c@clients.example"), None);
    }

    #[test]
    fn outbound_senders_name_their_message() {
        let spec: ClientSpec = serde_saphyr::from_str("{ name: c-2, messages: 3 }").unwrap();
        let plan = plan(&spec, "c-2", &mut Rng::new(1), true);
        let sender = plan[2].reverse_path.as_ref().unwrap().to_string();
        assert_eq!(message_of_sender(&sender), Some(("c-2".into(), 2)));
        assert!(plan[0].data.windows(5).any(|w| w == b"\r\n.\r\n"));
    }
}

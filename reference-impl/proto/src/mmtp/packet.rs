//! The message packet (seed §4.1): a typed view for checks, and a builder for clients.
//!
//! The server keeps a packet as the ordered [`Json`] it received (so content, unknown fields
//! and key order survive to the recipient, and the messageHash still verifies there) and reads
//! the fields it checks through [`Packet`]. Unknown fields are ignored, as the original did;
//! the fields the seed types are checked strictly (a `timestamp` that is not an integer, a
//! `hashcashToken` without a numeric `counter`, and so on, are refused).

use serde::Deserialize;

use super::digest::message_hash;
use super::hashcash::HashcashToken;
use super::json::{Json, Object};

/// `meta.type` (seed §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum PacketType {
    /// `SEND`: standard message delivery.
    #[serde(rename = "SEND")]
    Send,
    /// `REPLY`: a response to a previous message.
    #[serde(rename = "REPLY")]
    Reply,
    /// `FORWARD`: a message forwarded from another source.
    #[serde(rename = "FORWARD")]
    Forward,
}

impl PacketType {
    /// The wire form, e.g. `"SEND"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Send => "SEND",
            Self::Reply => "REPLY",
            Self::Forward => "FORWARD",
        }
    }
}

/// The fields of a packet the server checks. `meta.signatureVerified` is deliberately absent:
/// a client's value is never read (DESIGN).
#[derive(Clone, Debug, Deserialize)]
pub struct Packet {
    /// `meta`: type, id, timestamp, proof of work, flags and tags.
    pub meta: Meta,
    /// `sender`, `(name)%(domain)` (seed §3.3); checked by the server, not here.
    pub sender: String,
    /// `recipient`, `(name)%(domain)` (seed §3.3); checked by the server, not here.
    pub recipient: String,
    /// `content`: `{"subject","body"}` in plaintext, or `{"encrypted": armored}` (seed §4.4).
    pub content: Json,
    /// `verification`; absent is the same as empty.
    #[serde(default)]
    pub verification: Verification,
}

/// `meta` of a packet (seed §4.1).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// `meta.type`.
    #[serde(rename = "type")]
    pub kind: PacketType,
    /// `meta.messageId`, kept as the client sent it and echoed in the SEND reply.
    pub message_id: String,
    /// Unix milliseconds.
    pub timestamp: u64,
    /// `meta.hashcashToken`: the proof of work (seed §3.4).
    pub hashcash_token: HashcashToken,
    /// `meta.encrypted`: the client says the content is PGP-encrypted (absent: false).
    #[serde(default)]
    pub encrypted: bool,
    /// `meta.signed`: the client says `verification.signature` signs the content (absent: false).
    #[serde(default)]
    pub signed: bool,
    /// Processed by [`super::tags::Tags::process`]; any shape is accepted here.
    #[serde(default)]
    pub tags: Option<Json>,
}

/// `verification` of a packet (seed §4.1).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// `messageHash`: lowercase hex SHA-256 of the compact JSON of the plaintext content (seed
    /// §4.3, DESIGN); the server refuses a packet without it.
    #[serde(default)]
    pub message_hash: Option<String>,
    /// `signature`: an ASCII-armored detached OpenPGP signature over the plaintext content.
    #[serde(default)]
    pub signature: Option<String>,
}

impl Packet {
    /// Reads the typed view of an ordered packet value.
    pub fn from_json(packet: &Json) -> Result<Packet, serde_json::Error> {
        serde_json::from_str(&packet.to_compact_string())
    }

    /// `{"encrypted": armored}` content (seed §4.4), when that is what the content is.
    pub fn encrypted_text(&self) -> Option<&str> {
        let object = self.content.as_object()?;
        match (object.len(), object.get("encrypted")) {
            (1, Some(Json::String(armored))) => Some(armored),
            _ => None,
        }
    }
}

/// What a client puts into a packet; see [`build`].
#[derive(Clone, Debug)]
pub struct NewPacket {
    /// `meta.type`.
    pub kind: PacketType,
    /// `meta.messageId`.
    pub message_id: String,
    /// `meta.timestamp`, Unix milliseconds.
    pub timestamp_ms: u64,
    /// `sender`, `(name)%(domain)`.
    pub sender: String,
    /// `recipient`, `(name)%(domain)`.
    pub recipient: String,
    /// The plaintext content, usually `{"subject":..,"body":..}`.
    pub content: Json,
    /// `meta.hashcashToken`, minted for this sender, recipient and timestamp.
    pub hashcash: HashcashToken,
    /// `meta.tags`, as given.
    pub tags: Option<Json>,
    /// An armored detached signature over `content.to_compact_string()`.
    pub signature: Option<String>,
    /// An armored OpenPGP message encrypting `content.to_compact_string()`; replaces content.
    pub encrypted: Option<String>,
}

/// Builds a packet with the original client's field order. The messageHash is always that of
/// the plaintext content (the original computed it before encrypting).
pub fn build(new: NewPacket) -> Json {
    let mut meta = Object::new();
    meta.insert("type", Json::from(new.kind.as_str()));
    meta.insert("messageId", Json::String(new.message_id));
    meta.insert("timestamp", Json::Number(new.timestamp_ms.into()));
    let mut token = Object::new();
    token.insert("token", Json::String(new.hashcash.token));
    token.insert("counter", Json::Number(new.hashcash.counter.into()));
    meta.insert("hashcashToken", Json::Object(token));
    meta.insert("encrypted", Json::Bool(new.encrypted.is_some()));
    meta.insert("signed", Json::Bool(new.signature.is_some()));
    if let Some(tags) = new.tags {
        meta.insert("tags", tags);
    }
    let mut verification = Object::new();
    verification.insert("messageHash", Json::String(message_hash(&new.content)));
    if let Some(signature) = new.signature {
        verification.insert("signature", Json::String(signature));
    }
    let content = match new.encrypted {
        Some(armored) => Json::Object(
            [("encrypted".to_owned(), Json::String(armored))]
                .into_iter()
                .collect(),
        ),
        None => new.content,
    };
    let mut packet = Object::new();
    packet.insert("meta", Json::Object(meta));
    packet.insert("sender", Json::String(new.sender));
    packet.insert("recipient", Json::String(new.recipient));
    packet.insert("content", content);
    packet.insert("verification", Json::Object(verification));
    Json::Object(packet)
}

/// `{"subject": subject, "body": body}`, the content the original client sends.
pub fn plain_content(subject: &str, body: &str) -> Json {
    let mut content = Object::new();
    content.insert("subject", Json::from(subject));
    content.insert("body", Json::from(body));
    Json::Object(content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmtp::hashcash::Stamp;

    fn sample() -> Json {
        let stamp = Stamp {
            difficulty: 4,
            timestamp_ms: 1_625_849_600_000,
            sender: "(alice)%(example.com)".into(),
            recipient: "(bob)%(example.com)".into(),
        };
        build(NewPacket {
            kind: PacketType::Send,
            message_id: "abc123def456".into(),
            timestamp_ms: stamp.timestamp_ms,
            sender: stamp.sender.clone(),
            recipient: stamp.recipient.clone(),
            content: plain_content("Hello", "Hello, this is a test message."),
            hashcash: stamp.hashcash_token(28383),
            tags: Some(Json::from_slice(br#"{"priority":["medium"]}"#).unwrap()),
            signature: None,
            encrypted: None,
        })
    }

    #[test]
    fn built_packets_read_back() {
        let json = sample();
        let text = json.to_compact_string();
        assert!(text.starts_with(r#"{"meta":{"type":"SEND","messageId":"abc123def456","timestamp":1625849600000,"hashcashToken":{"token":"1:4:"#));
        assert!(text.ends_with(r#""verification":{"messageHash":"3a9666079b04bb05ba63fecef2cf7dbb3ffdb658b1c73f8d9bc481e96e4e3235"}}"#));
        let packet = Packet::from_json(&json).unwrap();
        assert_eq!(packet.meta.kind, PacketType::Send);
        assert_eq!(packet.meta.hashcash_token.counter, 28383);
        assert!(!packet.meta.encrypted && !packet.meta.signed);
        assert_eq!(packet.encrypted_text(), None);
    }

    #[test]
    fn unknown_fields_are_ignored_and_types_are_strict() {
        let ok = br#"{"meta":{"type":"REPLY","messageId":"m","timestamp":1,"hashcashToken":{"token":"t","counter":0},"x":1},
            "sender":"s","recipient":"r","content":{"encrypted":"ARMOR"},"extra":[1]}"#;
        let packet = Packet::from_json(&Json::from_slice(ok).unwrap()).unwrap();
        assert_eq!(packet.encrypted_text(), Some("ARMOR"));
        assert!(packet.verification.message_hash.is_none());
        for bad in [
            r#"{"meta":{"type":"SEND","messageId":"m","timestamp":"1","hashcashToken":{"token":"t","counter":0}},"sender":"s","recipient":"r","content":{}}"#,
            r#"{"meta":{"type":"SEND","messageId":"m","timestamp":1.5,"hashcashToken":{"token":"t","counter":0}},"sender":"s","recipient":"r","content":{}}"#,
            r#"{"meta":{"type":"PING","messageId":"m","timestamp":1,"hashcashToken":{"token":"t","counter":0}},"sender":"s","recipient":"r","content":{}}"#,
            r#"{"meta":{"type":"SEND","messageId":"m","timestamp":1,"hashcashToken":{"token":"t"}},"sender":"s","recipient":"r","content":{}}"#,
            r#"{"meta":{"type":"SEND","messageId":"m","timestamp":1,"hashcashToken":{"token":"t","counter":0}},"sender":"s","recipient":"r"}"#,
            r#"{"meta":{"type":"SEND","messageId":"m","timestamp":1,"hashcashToken":{"token":"t","counter":0},"signed":"yes"},"sender":"s","recipient":"r","content":{}}"#,
        ] {
            assert!(
                Packet::from_json(&Json::from_slice(bad.as_bytes()).unwrap()).is_err(),
                "{bad}"
            );
        }
    }
}

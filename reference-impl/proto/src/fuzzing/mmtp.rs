//! `mmtp_framing` and `mmtp_packet`: the streaming JSON framer and the packet codec.
//!
//! Framing (DESIGN: "readers accept back-to-back values with or without newlines ... a value
//! over the size limit gets an error and the connection is closed"): any chunking gives the
//! same values and errors; a stream built from known values gives exactly what a simple model
//! predicts, including `TooLarge`/`TooDeep` at the first value over a limit and nothing after.
//! Packets: any bytes decode or are refused without a panic; the compact form is a fixed
//! point; a decoded packet rebuilt by [`build`] decodes to the same fields.

use super::choices::Choices;
use crate::mmtp::digest::message_hash;
use crate::mmtp::framing::{FrameError, FrameLimits, JsonDecoder};
use crate::mmtp::json::Json;
use crate::mmtp::packet::{NewPacket, Packet, build};
use crate::mmtp::request::Request;
use crate::mmtp::tags::Tags;

type Frames = Vec<Result<Vec<u8>, FrameError>>;

pub fn mmtp_framing(data: &[u8]) {
    let mut c = Choices::new(data);
    let structured = c.flag();
    let limits = FrameLimits {
        max_value: 8 + c.below(248),
        max_depth: if structured { 3 } else { 1 } + c.below(8),
    };
    let cuts: Vec<u8> = (0..c.below(9)).map(|_| c.byte()).collect();
    let (stream, expected) = if structured {
        let (stream, expected) = build_stream(&mut c, &limits);
        (stream, Some(expected))
    } else {
        (c.rest().to_vec(), None)
    };
    let whole = decode(&limits, &[&stream]);
    let parts = decode(&limits, &split(&stream, &cuts));
    assert_eq!(whole, parts, "chunking changed the frames");
    if let Some(expected) = expected {
        assert_eq!(whole, expected, "frames differ from the model");
    }
    for frame in whole.iter().flatten() {
        check_frame(&limits, frame);
    }
}

/// `stream` cut at the points `cuts` name (each a 256th of its length), in order.
pub(super) fn split<'a>(stream: &'a [u8], cuts: &[u8]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|&p| usize::from(p) * stream.len() / 256)
        .collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for end in points.into_iter().chain([stream.len()]) {
        chunks.push(&stream[start..end]);
        start = end;
    }
    chunks
}

/// Every frame and error the decoder yields for `chunks`, fed one by one; after a fatal
/// error it must stay silent whatever comes next.
fn decode(limits: &FrameLimits, chunks: &[&[u8]]) -> Frames {
    let mut decoder = JsonDecoder::new(*limits);
    let mut frames = Vec::new();
    for chunk in chunks {
        decoder.push(chunk);
        while let Some(frame) = decoder.next_value() {
            let fatal = frame.as_ref().is_err_and(FrameError::is_fatal);
            frames.push(frame);
            if fatal {
                decoder.push(b"{}\n[]");
                assert_eq!(decoder.next_value(), None, "a frame after a fatal error");
                assert!(decoder.is_idle());
                return frames;
            }
        }
    }
    frames
}

/// A frame is one bracketed value within the size limit; when it is JSON, its compact form
/// frames as itself.
fn check_frame(limits: &FrameLimits, frame: &[u8]) {
    assert!(frame.len() <= limits.max_value, "frame over the limit");
    assert!(matches!(frame.first(), Some(b'{' | b'[')));
    assert!(matches!(frame.last(), Some(b'}' | b']')));
    let Ok(json) = Json::from_slice(frame) else {
        return;
    };
    let compact = json.to_compact_string();
    if compact.len() <= limits.max_value {
        let again = decode(limits, &[format!("{compact}\n").as_bytes()]);
        assert_eq!(again, vec![Ok(compact.into_bytes())]);
    }
}

const VALUES: [&str; 6] = [
    r#"{"action":"GET_TAG_CATEGORIES"}"#,
    r#"{"action":"RECEIVE","data":{"email":"(bob)%(example.com)"}}"#,
    r#"["a",{"b":[1,2]},"]"]"#,
    r#"{"s":"}{][\"\\"}"#,
    r#"{"u":"\u007b","e":"\\"}"#,
    "[]",
];

const SEPARATORS: [&str; 4] = ["\n", "", " \r\n", "\t"];

/// A stream of known values, with the frames the decoder must produce for it.
fn build_stream(c: &mut Choices<'_>, limits: &FrameLimits) -> (Vec<u8>, Frames) {
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    let mut failed = false;
    for _ in 0..c.below(12) {
        let (value, frame) = match c.below(4) {
            0 => {
                let depth = 1 + c.below(12);
                let value = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
                let deep_at = (depth > limits.max_depth).then_some(limits.max_depth + 1);
                (value, sized(limits, deep_at, depth * 2))
            }
            1 => {
                let value = format!(r#"{{"pad":"{}"}}"#, "x".repeat(c.below(300)));
                let len = value.len();
                (value, sized(limits, None, len))
            }
            2 => ("not json".to_string(), Some(Err(FrameError::NotJson))),
            _ => {
                let value = c.pick(&VALUES).to_string();
                let len = value.len();
                (value, sized(limits, None, len))
            }
        };
        let frame = frame.unwrap_or_else(|| Ok(value.clone().into_bytes()));
        stream.extend_from_slice(value.as_bytes());
        // Garbage is skipped through the next newline, so it always gets one.
        let separator = if matches!(frame, Err(FrameError::NotJson)) {
            "\n"
        } else {
            c.pick(&SEPARATORS)
        };
        stream.extend_from_slice(separator.as_bytes());
        if !failed {
            failed = frame.as_ref().is_err_and(FrameError::is_fatal);
            expected.push(frame);
        }
    }
    (stream, expected)
}

/// The error for a value of `len` bytes that gets too deep at byte `deep_at` (1-based), if
/// any: whichever limit is crossed first; at the same byte depth is checked first.
fn sized(
    limits: &FrameLimits,
    deep_at: Option<usize>,
    len: usize,
) -> Option<Result<Vec<u8>, FrameError>> {
    let large_at = (len > limits.max_value).then_some(limits.max_value + 1);
    match (deep_at, large_at) {
        (Some(d), Some(l)) if d <= l => Some(Err(FrameError::TooDeep {
            limit: limits.max_depth,
        })),
        (Some(_), None) => Some(Err(FrameError::TooDeep {
            limit: limits.max_depth,
        })),
        (_, Some(_)) => Some(Err(FrameError::TooLarge {
            limit: limits.max_value,
        })),
        (None, None) => None,
    }
}

pub fn mmtp_packet(data: &[u8]) {
    let request = Request::parse(data);
    let Ok(mut json) = Json::from_slice(data) else {
        assert!(
            request.is_err(),
            "a request parsed from bytes that are not JSON"
        );
        return;
    };
    let compact = json.to_compact_string();
    let again = Json::from_slice(compact.as_bytes()).expect("compact JSON parses");
    assert_eq!(
        again.to_compact_string(),
        compact,
        "compact form is a fixed point"
    );
    // A SEND request carries its packet in `data.packet`.
    if let Ok(Request::Send { packet }) = request {
        json = packet;
    }
    let Ok(packet) = Packet::from_json(&json) else {
        return;
    };
    let tags = Tags::process(packet.meta.tags.as_ref());
    assert_eq!(
        Tags::process(Some(&tags.to_json())),
        tags,
        "tags processed twice"
    );
    round_trip(&packet);
}

/// decode(build(x)) == x for the fields a packet carries.
fn round_trip(packet: &Packet) {
    let rebuilt = build(NewPacket {
        kind: packet.meta.kind,
        message_id: packet.meta.message_id.clone(),
        timestamp_ms: packet.meta.timestamp,
        sender: packet.sender.clone(),
        recipient: packet.recipient.clone(),
        content: packet.content.clone(),
        hashcash: packet.meta.hashcash_token.clone(),
        tags: packet.meta.tags.clone(),
        signature: packet.verification.signature.clone(),
        encrypted: None,
    });
    let back = Packet::from_json(&rebuilt).expect("a built packet decodes");
    assert_eq!(back.meta.kind, packet.meta.kind);
    assert_eq!(back.meta.message_id, packet.meta.message_id);
    assert_eq!(back.meta.timestamp, packet.meta.timestamp);
    assert_eq!(back.meta.hashcash_token, packet.meta.hashcash_token);
    assert_eq!(back.sender, packet.sender);
    assert_eq!(back.recipient, packet.recipient);
    assert_eq!(
        back.content.to_compact_string(),
        packet.content.to_compact_string()
    );
    assert_eq!(
        back.meta.tags.as_ref().map(Json::to_compact_string),
        packet.meta.tags.as_ref().map(Json::to_compact_string)
    );
    assert_eq!(back.meta.signed, packet.verification.signature.is_some());
    assert!(!back.meta.encrypted);
    assert_eq!(back.verification.signature, packet.verification.signature);
    assert_eq!(
        back.verification.message_hash,
        Some(message_hash(&packet.content))
    );
    assert_eq!(back.encrypted_text(), packet.encrypted_text());
}

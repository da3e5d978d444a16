//! The on-disk record format, sans-io: framing with length and CRC32, and the payload of each
//! record kind.
//!
//! ```text
//! frame   = len:u32le crc32(payload):u32le payload            (len = payload length)
//! payload = 0x01 seq:u64le header_len:u32le header-json body   a stored message
//!         | 0x02 seq:u64le at_ms:u64le                         first read of a message
//!         | 0x03 count:u32le seq:u64le*count                   messages removed
//! ```
//!
//! `header-json` is the [`NewMessage`] with an empty `data`; `body` is the message bytes, kept
//! last so the store can read a body back with one positioned read.

use std::ops::Range;

use super::NewMessage;

/// Bytes before the payload: length and checksum.
pub(crate) const FRAME_HEADER: usize = 8;
/// Larger lengths are treated as corruption rather than allocated.
pub(crate) const MAX_PAYLOAD: usize = 1 << 30;

const KIND_MESSAGE: u8 = 1;
const KIND_OPENED: u8 = 2;
const KIND_REMOVED: u8 = 3;

/// One decoded log record.
#[derive(Debug, PartialEq)]
pub(crate) enum Record {
    /// `message.data` is empty; the body is `body` within the payload.
    Message {
        seq: u64,
        message: Box<NewMessage>,
        body: Range<usize>,
    },
    Opened {
        seq: u64,
        at_ms: u64,
    },
    Removed {
        seqs: Vec<u64>,
    },
}

/// Appends a frame holding a message record to `out`; returns the body's offset from the start
/// of the frame. `header.data` should be empty: the body is `body` (a non-empty `data` would be
/// written into the JSON too, and dropped again on decode).
pub(crate) fn encode_message(
    out: &mut Vec<u8>,
    seq: u64,
    header: &NewMessage,
    body: &[u8],
) -> Result<usize, serde_json::Error> {
    let json = serde_json::to_vec(header)?;
    let body_at = FRAME_HEADER + 1 + 8 + 4 + json.len();
    frame(out, |p| {
        p.push(KIND_MESSAGE);
        p.extend_from_slice(&seq.to_le_bytes());
        p.extend_from_slice(&len_u32(json.len()).to_le_bytes());
        p.extend_from_slice(&json);
        p.extend_from_slice(body);
    });
    Ok(body_at)
}

pub(crate) fn encode_opened(out: &mut Vec<u8>, seq: u64, at_ms: u64) {
    frame(out, |p| {
        p.push(KIND_OPENED);
        p.extend_from_slice(&seq.to_le_bytes());
        p.extend_from_slice(&at_ms.to_le_bytes());
    });
}

pub(crate) fn encode_removed(out: &mut Vec<u8>, seqs: &[u64]) {
    frame(out, |p| {
        p.push(KIND_REMOVED);
        p.extend_from_slice(&len_u32(seqs.len()).to_le_bytes());
        for seq in seqs {
            p.extend_from_slice(&seq.to_le_bytes());
        }
    });
}

fn frame(out: &mut Vec<u8>, write_payload: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    write_payload(out);
    let payload = &out[start + FRAME_HEADER..];
    let len = len_u32(payload.len()).to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    out[start..start + 4].copy_from_slice(&len);
    out[start + 4..start + FRAME_HEADER].copy_from_slice(&crc);
}

fn len_u32(len: usize) -> u32 {
    // Messages are limited far below 4 GiB by the protocol layers (and by MAX_PAYLOAD on read);
    // exceeding it is a bug in the caller, not an input error.
    u32::try_from(len).expect("store record larger than 4 GiB")
}

/// Reads a frame header: the payload length and its expected CRC.
pub(crate) fn parse_header(header: [u8; FRAME_HEADER]) -> Result<(usize, u32), String> {
    let [l0, l1, l2, l3, c0, c1, c2, c3] = header;
    let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    if len == 0 || len > MAX_PAYLOAD {
        return Err(format!("implausible record length {len}"));
    }
    Ok((len, u32::from_le_bytes([c0, c1, c2, c3])))
}

pub(crate) fn check_crc(payload: &[u8], crc: u32) -> Result<(), String> {
    let actual = crc32fast::hash(payload);
    if actual == crc {
        Ok(())
    } else {
        Err(format!(
            "checksum mismatch (stored {crc:08x}, computed {actual:08x})"
        ))
    }
}

/// Decodes a payload whose checksum was verified.
pub(crate) fn decode(payload: &[u8]) -> Result<Record, String> {
    let mut r = Reader(payload);
    match r.u8()? {
        KIND_MESSAGE => {
            let seq = r.u64()?;
            let header_len = r.u32()? as usize;
            let json = r.take(header_len)?;
            let mut message: NewMessage =
                serde_json::from_slice(json).map_err(|e| format!("message header: {e}"))?;
            message.data = Vec::new();
            let body = payload.len() - r.0.len()..payload.len();
            Ok(Record::Message {
                seq,
                message: Box::new(message),
                body,
            })
        }
        KIND_OPENED => {
            let record = Record::Opened {
                seq: r.u64()?,
                at_ms: r.u64()?,
            };
            r.end()?;
            Ok(record)
        }
        KIND_REMOVED => {
            let count = r.u32()? as usize;
            if count.saturating_mul(8) != r.0.len() {
                return Err(format!("removal of {count} ids in {} bytes", r.0.len()));
            }
            let seqs = (0..count).map(|_| r.u64()).collect::<Result<_, _>>()?;
            Ok(Record::Removed { seqs })
        }
        kind => Err(format!("unknown record kind {kind}")),
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.0.len() {
            return Err("record payload too short".to_owned());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn end(&self) -> Result<(), String> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(format!("{n} unexpected trailing bytes")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NewMessage {
        NewMessage {
            reverse_path: "a@example.org".into(),
            recipients: vec!["b@example.com".into(), "c@example.com".into()],
            metadata: vec![("k".into(), "v v".into())],
            read_ack: true,
            data: b"Subject: hi\r\n\r\nbody\r\n".to_vec(),
            received_at_ms: 1_700_000_000_000,
            helo: "client.example.org".into(),
            peer: "127.0.0.1:4000".into(),
            tls: true,
            auth: Some("alice".into()),
            protocol: "VMTP".into(),
            extra: Some(serde_json::json!({"tags": ["x"]})),
            trace_len: 0,
        }
    }

    /// Splits one frame off `buf`, checking it the way the log scanner does.
    fn unframe(buf: &[u8]) -> (Record, &[u8]) {
        let (len, crc) = parse_header(buf[..FRAME_HEADER].try_into().unwrap()).unwrap();
        let payload = &buf[FRAME_HEADER..FRAME_HEADER + len];
        check_crc(payload, crc).unwrap();
        (decode(payload).unwrap(), payload)
    }

    #[test]
    fn message_round_trip() {
        let mut msg = sample();
        let data = std::mem::take(&mut msg.data);
        let mut buf = vec![0xAA; 3]; // frames are appended, not written at 0
        let body_at = encode_message(&mut buf, 42, &msg, &data).unwrap();
        let (record, payload) = unframe(&buf[3..]);
        let Record::Message { seq, message, body } = record else {
            panic!("{record:?}")
        };
        assert_eq!(seq, 42);
        assert_eq!(&payload[body.clone()], data.as_slice());
        assert_eq!(&buf[3 + body_at..], data.as_slice());
        assert_eq!(*message, msg);
    }

    #[test]
    fn status_records_round_trip() {
        let mut buf = Vec::new();
        encode_opened(&mut buf, 7, 99);
        let (record, _) = unframe(&buf);
        assert_eq!(record, Record::Opened { seq: 7, at_ms: 99 });
        buf.clear();
        encode_removed(&mut buf, &[1, 5, 9]);
        let (record, _) = unframe(&buf);
        assert_eq!(
            record,
            Record::Removed {
                seqs: vec![1, 5, 9]
            }
        );
    }

    #[test]
    fn damage_is_detected() {
        let mut buf = Vec::new();
        encode_opened(&mut buf, 7, 99);
        let (len, crc) = parse_header(buf[..FRAME_HEADER].try_into().unwrap()).unwrap();
        buf[FRAME_HEADER + 3] ^= 1;
        assert!(check_crc(&buf[FRAME_HEADER..FRAME_HEADER + len], crc).is_err());
        assert!(parse_header([0; FRAME_HEADER]).is_err());
        assert!(parse_header([0xFF; FRAME_HEADER]).is_err());
        assert!(decode(&[9]).is_err());
        assert!(decode(&[KIND_OPENED, 1, 2]).is_err());
        assert!(decode(&[KIND_REMOVED, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }
}

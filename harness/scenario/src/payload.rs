//! Octets a scenario step sends: given as text (with variables), CRLF-terminated lines, hex
//! or base64, in SMTP steps and HTTP bodies alike.

use base64::Engine;

use super::vars::{Template, UnknownVariable, Vars};

/// Bytes given as text (with variables), hex or base64.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// `text:` or `lines:` (each line given CRLF): a template whose `{{variables}}` are
    /// expanded when the step runs, then sent as UTF-8.
    Text(Template),
    /// `hex:` or `base64:`, decoded when the scenario is loaded; sent as is, no variables.
    Bytes(Vec<u8>),
}

impl Payload {
    /// The octets to send: the text with its variables expanded, or the decoded bytes. Fails
    /// on a variable `vars` does not hold.
    pub fn expand(&self, vars: &Vars) -> Result<Vec<u8>, UnknownVariable> {
        match self {
            Payload::Text(t) => t.expand(vars).map(String::into_bytes),
            Payload::Bytes(b) => Ok(b.clone()),
        }
    }

    pub(super) fn from_parts(parts: PayloadParts, what: &str) -> Result<Option<Self>, String> {
        let lines = parts.lines.map(|lines| {
            let text: String = lines
                .iter()
                .map(|l| format!("{}\r\n", l.as_str()))
                .collect();
            Template::parse(&text)
        });
        match (parts.text, lines, parts.hex, parts.base64) {
            (None, None, None, None) => Ok(None),
            (Some(t), None, None, None) => Ok(Some(Payload::Text(t))),
            (None, Some(t), None, None) => t.map(|t| Some(Payload::Text(t))),
            (None, None, Some(h), None) => decode_hex(&h).map(|b| Some(Payload::Bytes(b))),
            (None, None, None, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b.split_whitespace().collect::<String>())
                .map(|b| Some(Payload::Bytes(b)))
                .map_err(|e| format!("bad base64 in {what}: {e}")),
            _ => Err(format!(
                "{what}: give only one of text, lines, hex and base64"
            )),
        }
    }
}

/// The ways to give bytes; at most one may be present.
pub(super) struct PayloadParts {
    pub(super) text: Option<Template>,
    /// Each line gets CRLF.
    pub(super) lines: Option<Vec<Template>>,
    pub(super) hex: Option<String>,
    pub(super) base64: Option<String>,
}

/// Hex digits, with optional whitespace between bytes (`0d 0a 2e 0d 0a`).
pub fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits in {text:?}"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| format!("bad hex digits {:?}", String::from_utf8_lossy(pair)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex() {
        assert_eq!(decode_hex("0d 0a2e").unwrap(), b"\r\n.");
        assert!(decode_hex("0d0").is_err());
        assert!(decode_hex("zz").is_err());
    }
}

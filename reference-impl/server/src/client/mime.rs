//! Building an RFC 5322 message with `mail-builder`: From, To, Subject, Date (from a clock
//! the caller passes in), Message-ID, a text body and file attachments.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;

/// One attached file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The file name given in the part's Content-Disposition.
    pub filename: String,
    /// The part's MIME type, e.g. `application/pdf`.
    pub content_type: String,
    /// The file's bytes, unencoded (the builder chooses the transfer encoding).
    pub data: Vec<u8>,
}

impl Attachment {
    /// Reads a file; the content type is guessed from its extension.
    pub fn from_file(path: &Path) -> std::io::Result<Self> {
        let data = std::fs::read(path)?;
        let filename = path
            .file_name()
            .map_or_else(|| "attachment".into(), |n| n.to_string_lossy().into_owned());
        Ok(Self {
            content_type: content_type_for(&filename).to_string(),
            filename,
            data,
        })
    }
}

/// What goes into a message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compose {
    /// The From header's address.
    pub from: String,
    /// The To header's addresses, in order.
    pub to: Vec<String>,
    /// Left out of the header when empty.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// Files attached after the text, in order; none makes a single-part message.
    pub attachments: Vec<Attachment>,
    /// Seconds since the Unix epoch, for the Date header.
    pub date: i64,
    /// Without angle brackets; see [`new_message_id`].
    pub message_id: String,
}

/// The message text, with CRLF line ends.
pub fn build(compose: &Compose) -> std::io::Result<Vec<u8>> {
    let to: Vec<Address<'_>> = compose
        .to
        .iter()
        .map(|t| Address::from(t.as_str()))
        .collect();
    let mut builder = MessageBuilder::new().from(compose.from.as_str()).to(to);
    if !compose.subject.is_empty() {
        builder = builder.subject(compose.subject.as_str());
    }
    builder = builder
        .date(compose.date)
        .message_id(compose.message_id.as_str())
        .text_body(compose.text.as_str());
    for a in &compose.attachments {
        builder = builder.attachment(
            a.content_type.as_str(),
            a.filename.as_str(),
            a.data.as_slice(),
        );
    }
    builder.write_to_vec()
}

/// A Message-ID unique to this process: time, process id and a counter.
pub fn new_message_id(now_ms: u64, domain: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{now_ms:x}.{:x}.{n}@{domain}", std::process::id())
}

/// A content type from a file name's extension; `application/octet-stream` otherwise.
pub fn content_type_for(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "text" | "log" => "text/plain",
        "csv" => "text/csv",
        "htm" | "html" => "text/html",
        "md" => "text/markdown",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "eml" => "message/rfc822",
        "ics" => "text/calendar",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_headers_body_and_attachment() {
        let compose = Compose {
            from: "alice@example.test".into(),
            to: vec!["bob@example.test".into(), "carol@example.test".into()],
            subject: "Greetings".into(),
            text: "Hello Bob\r\n".into(),
            attachments: vec![Attachment {
                filename: "notes.txt".into(),
                content_type: content_type_for("notes.txt").into(),
                data: b"some notes".to_vec(),
            }],
            date: 1_625_849_600,
            message_id: "abc.1@client.example".into(),
        };
        let text = String::from_utf8(build(&compose).unwrap()).unwrap();
        for needle in [
            "From: <alice@example.test>",
            "Subject: Greetings",
            "Message-ID: <abc.1@client.example>",
            "Date: Fri, 9 Jul 2021 16:53:20 +0000",
            "notes.txt",
            "Hello Bob",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
        assert!(text.contains("bob@example.test") && text.contains("carol@example.test"));
        assert!(
            !text.replace("\r\n", "").contains('\n'),
            "bare LF in output"
        );
    }

    #[test]
    fn guesses_content_types() {
        assert_eq!(content_type_for("a.PDF"), "application/pdf");
        assert_eq!(content_type_for("noext"), "application/octet-stream");
        assert_ne!(new_message_id(1, "x"), new_message_id(1, "x"));
    }
}

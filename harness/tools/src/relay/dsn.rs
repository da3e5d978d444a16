//! Just enough MIME to judge a non-delivery notification as an RFC 3464 delivery status
//! notification: the top-level `Content-Type` (`multipart/report; report-type=delivery-status`
//! and its boundary), the `message/delivery-status` part (or RFC 6533's
//! `message/global-delivery-status`), and its per-recipient groups (`Final-Recipient`,
//! `Action`, `Status`).

use super::content::{field_value, header_fields, is_field};

/// One per-recipient group of the delivery-status part.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecipientStatus {
    /// The address of `Final-Recipient: rfc822; ADDRESS`, lowercase, without angle brackets.
    pub final_recipient: String,
    /// The `Action` field, lowercase (`failed`, `delayed`, ...).
    pub action: String,
    /// The `Status` field, as written (`5.1.1`).
    pub status: String,
}

/// A media type and its parameters (names lowercase, values unquoted).
struct ContentType {
    media: String,
    params: Vec<(String, String)>,
}

impl ContentType {
    fn parse(value: &str) -> Self {
        let mut parts = value.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let params = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| {
                (
                    k.trim().to_ascii_lowercase(),
                    v.trim().trim_matches('"').to_string(),
                )
            })
            .collect();
        Self { media, params }
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn content_type(fields: &[&[u8]]) -> Option<ContentType> {
    fields
        .iter()
        .find(|f| is_field(f, "Content-Type"))
        .map(|f| ContentType::parse(&field_value(f)))
}

/// The per-recipient groups of the notification `message` (unstuffed content), or why it is
/// not an RFC 3464 DSN.
pub fn recipients(message: &[u8]) -> Result<Vec<RecipientStatus>, String> {
    let (fields, body) = header_fields(message);
    let ctype = content_type(&fields).ok_or("the notification has no Content-Type field")?;
    // RFC 3464 §2: "the DSN is a MIME message with a top-level content-type of
    // multipart/report (defined in [REPORT])" / RFC 6522 §3: report-type "delivery-status".
    if ctype.media != "multipart/report" {
        return Err(format!(
            "the notification is {}, not multipart/report",
            ctype.media
        ));
    }
    if !ctype
        .param("report-type")
        .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"))
    {
        return Err("multipart/report without report-type=delivery-status".into());
    }
    let boundary = ctype
        .param("boundary")
        .ok_or("multipart/report without a boundary")?;
    let status = parts(&message[body..], boundary)
        .into_iter()
        .find_map(|part| {
            let (fields, body) = header_fields(part);
            let media = content_type(&fields)?.media;
            matches!(
                media.as_str(),
                "message/delivery-status" | "message/global-delivery-status"
            )
            .then(|| &part[body..])
        })
        .ok_or("no message/delivery-status part")?;
    Ok(groups(status).iter().filter_map(|g| group(g)).collect())
}

/// The parts of a multipart body: what lies between `--boundary` lines, up to `--boundary--`.
fn parts<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut at = 0;
    while at < body.len() {
        let end = body[at..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(body.len(), |p| at + p + 2);
        let line = String::from_utf8_lossy(&body[at..end]);
        let line = line.trim_end();
        if line.starts_with(&delimiter) {
            if let Some(s) = start.take() {
                parts.push(&body[s..at]);
            }
            if line[delimiter.len()..].starts_with("--") {
                break;
            }
            start = Some(end);
        }
        at = end;
    }
    parts
}

/// The blocks of fields separated by empty lines.
fn groups(part: &[u8]) -> Vec<Vec<u8>> {
    let mut groups = Vec::new();
    let mut current = Vec::new();
    for line in part.split_inclusive(|b| *b == b'\n') {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
        } else {
            current.extend_from_slice(line);
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// A per-recipient group (one with `Final-Recipient`); the per-message group gives `None`.
fn group(block: &[u8]) -> Option<RecipientStatus> {
    let mut block = block.to_vec();
    block.extend_from_slice(b"\r\n");
    let (fields, _) = header_fields(&block);
    let value = |name: &str| {
        fields
            .iter()
            .find(|f| is_field(f, name))
            .map(|f| field_value(f))
    };
    let recipient = value("Final-Recipient")?;
    let address = recipient
        .split_once(';')
        .map_or(recipient.as_str(), |(_, a)| a)
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_ascii_lowercase();
    Some(RecipientStatus {
        final_recipient: address,
        action: value("Action").unwrap_or_default().to_ascii_lowercase(),
        status: value("Status").unwrap_or_default(),
    })
}

/// Whether the DSN reports `rcpt` as failed with a permanent status; `Err` says what is
/// missing.
///
/// RFC 3464 §2.3.2: "The Final-Recipient field indicates the recipient for which this set of
/// per-recipient fields applies. This field MUST be present in each set of per-recipient
/// data." §2.3.3: "The Action field indicates the action performed by the Reporting-MTA as a
/// result of its attempt to deliver the message to this recipient address."
pub fn reports_failed(message: &[u8], rcpt: &str) -> Result<(), String> {
    let groups = recipients(message)?;
    let rcpt = rcpt.to_ascii_lowercase();
    let Some(g) = groups.iter().find(|g| g.final_recipient == rcpt) else {
        let named: Vec<&str> = groups.iter().map(|g| g.final_recipient.as_str()).collect();
        return Err(format!(
            "no Final-Recipient names {rcpt} (named: {})",
            if named.is_empty() {
                "none".to_string()
            } else {
                named.join(", ")
            }
        ));
    };
    if g.action != "failed" {
        return Err(format!("Action: {} for {rcpt}, not failed", g.action));
    }
    if !g.status.starts_with("5.") {
        return Err(format!(
            "Status: {} for {rcpt}, not a permanent 5.x.x",
            g.status
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DSN: &str = "Received: by mx\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"B1/x.y\"\r\nSubject: Undelivered\r\n\r\nThis is a MIME message.\r\n\r\n--B1/x.y\r\nContent-Type: text/plain\r\n\r\nIt failed.\r\n\r\n--B1/x.y\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\nArrival-Date: now\r\n\r\nFinal-Recipient: rfc822; Rcpt-T@relay.test\r\nOriginal-Recipient: rfc822;rcpt-t@relay.test\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no\r\n\r\n--B1/x.y\r\nContent-Type: text/rfc822-headers\r\n\r\nSubject: x\r\n\r\n--B1/x.y--\r\n";

    #[test]
    fn a_dsn_is_read() {
        let groups = recipients(DSN.as_bytes()).unwrap();
        assert_eq!(
            groups,
            [RecipientStatus {
                final_recipient: "rcpt-t@relay.test".into(),
                action: "failed".into(),
                status: "5.1.1".into(),
            }]
        );
        assert!(reports_failed(DSN.as_bytes(), "rcpt-t@relay.test").is_ok());
        let e = reports_failed(DSN.as_bytes(), "other@relay.test").unwrap_err();
        assert!(e.contains("rcpt-t@relay.test"), "{e}");
        let delayed = DSN.replace("Action: failed", "Action: delayed");
        assert!(reports_failed(delayed.as_bytes(), "rcpt-t@relay.test").is_err());
        let temp = DSN.replace("Status: 5.1.1", "Status: 4.4.1");
        assert!(reports_failed(temp.as_bytes(), "rcpt-t@relay.test").is_err());
    }

    #[test]
    fn plain_notifications_are_not_dsns() {
        let plain = "Subject: failed\r\nContent-Type: text/plain\r\n\r\nno\r\n";
        assert!(
            recipients(plain.as_bytes())
                .unwrap_err()
                .contains("text/plain")
        );
        let untyped = DSN.replace("report-type=delivery-status;", "");
        assert!(recipients(untyped.as_bytes()).is_err());
        let no_part = DSN.replace("message/delivery-status", "text/plain");
        assert!(recipients(no_part.as_bytes()).is_err());
    }
}

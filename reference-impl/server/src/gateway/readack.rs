//! VMTP READACK through the gateway (DESIGN: "the STATUS callback"): the first read of a
//! message that asked for a read receipt marks it OPENED in the store, which SMTP `STATUS`
//! then reports with the time, and, when the sender's domain is local, stores a read
//! notification for the sender: null reverse-path, an RFC 8098 style
//! `multipart/report; report-type=disposition-notification` naming the message id, the reader
//! and the time, and the same facts as VMTP metadata.
//!
//! "Once" rests on [`Store::mark_opened`], which answers `true` to exactly one caller. A crash
//! between marking and storing the notification loses the notification (at most once).

use mail_builder::headers::date::Date;
use mtp_proto::time::rfc3339;

use crate::store::{NewMessage, Store, StoreError, StoredMessage};

/// Who read the message, as far as the gateway can tell.
#[derive(Clone, Debug)]
pub struct Reader {
    /// The recipient who read it (`?reader=`), when the client said so.
    pub address: Option<String>,
    /// The HTTP client's address.
    pub peer: String,
}

/// What reading a message did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadEffect {
    /// This read was the first of a READACK message: it is OPENED now.
    pub opened: bool,
    /// The id of the notification stored for the sender.
    pub notification: Option<String>,
}

/// Where notifications come from and which senders are local.
#[derive(Clone, Debug)]
pub struct Notifier {
    /// This host's name: in the notification's From (`MAILER-DAEMON@hostname`), Message-ID and
    /// Reporting-UA, and as the stored notification's HELO name.
    pub hostname: String,
    /// Domains whose mailboxes live in this store (compared without case).
    pub local_domains: Vec<String>,
}

impl Notifier {
    /// Applies READACK to a read of `stored` at `at_ms`.
    pub async fn on_read(
        &self,
        store: &Store,
        stored: &StoredMessage,
        reader: &Reader,
        at_ms: u64,
    ) -> Result<ReadEffect, StoreError> {
        if !stored.message.read_ack || !store.mark_opened(&stored.id, at_ms).await? {
            return Ok(ReadEffect::default());
        }
        let sender = &stored.message.reverse_path;
        if !self.is_local(sender) {
            return Ok(ReadEffect {
                opened: true,
                notification: None,
            });
        }
        let reader_text = describe(stored, reader);
        let notice = NewMessage {
            reverse_path: String::new(),
            recipients: vec![sender.clone()],
            metadata: vec![
                ("readack-for".into(), stored.id.clone()),
                ("reader".into(), reader_text.clone()),
                ("opened-at".into(), rfc3339(at_ms)),
            ],
            data: self.notification(stored, &reader_text, reader, at_ms),
            received_at_ms: at_ms,
            helo: self.hostname.clone(),
            peer: reader.peer.clone(),
            protocol: "HTTP".into(),
            ..NewMessage::default()
        };
        let id = store.append(notice).await?;
        tracing::info!(message = %stored.id, notification = %id, "read receipt stored for the sender");
        Ok(ReadEffect {
            opened: true,
            notification: Some(id),
        })
    }

    fn is_local(&self, address: &str) -> bool {
        address.rsplit_once('@').is_some_and(|(_, domain)| {
            self.local_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain))
        })
    }

    fn notification(
        &self,
        stored: &StoredMessage,
        reader_text: &str,
        reader: &Reader,
        at_ms: u64,
    ) -> Vec<u8> {
        let id = &stored.id;
        let when = rfc3339(at_ms);
        let boundary = format!("=_readack_{id}_{at_ms}");
        let recipients = stored.message.recipients.join(", ");
        let final_recipient = reader
            .address
            .clone()
            .or_else(|| single(&stored.message.recipients));
        let mut report = format!("Reporting-UA: {}; mtpspec HTTP gateway\r\n", self.hostname);
        if let Some(r) = &final_recipient {
            report += &format!("Final-Recipient: rfc822;{r}\r\n");
        }
        report += &format!("X-VMTP-Message-Id: {id}\r\nX-VMTP-Opened-At: {when}\r\n");
        report += "Disposition: automatic-action/MDN-sent-automatically; displayed\r\n";
        let text = format!(
            "Your message {id} to {recipients} was opened by {reader_text} at {when}\r\n\
             (read through the HTTP gateway of {host}).\r\n",
            host = self.hostname
        );
        let encoding = if text.is_ascii() { "7bit" } else { "8bit" };
        let date = Date::new(i64::try_from(at_ms / 1000).unwrap_or(i64::MAX)).to_rfc822();
        format!(
            "From: Mail Delivery System <MAILER-DAEMON@{host}>\r\n\
             To: <{to}>\r\n\
             Subject: Read receipt: message {id}\r\n\
             Date: {date}\r\n\
             Message-ID: <readack.{id}.{at_ms}@{host}>\r\n\
             Auto-Submitted: auto-replied\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=disposition-notification;\r\n\
             \tboundary=\"{boundary}\"\r\n\
             \r\n\
             --{boundary}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: {encoding}\r\n\
             \r\n\
             {text}\
             \r\n\
             --{boundary}\r\n\
             Content-Type: message/disposition-notification\r\n\
             \r\n\
             {report}\
             \r\n\
             --{boundary}--\r\n",
            host = self.hostname,
            to = stored.message.reverse_path,
        )
        .into_bytes()
    }
}

/// The reader as the notification names it.
fn describe(stored: &StoredMessage, reader: &Reader) -> String {
    match (reader.address.clone(), single(&stored.message.recipients)) {
        (Some(address), _) | (None, Some(address)) => address,
        (None, None) => format!("a recipient ({})", stored.message.recipients.join(", ")),
    }
}

fn single(recipients: &[String]) -> Option<String> {
    match recipients {
        [one] => Some(one.clone()),
        _ => None,
    }
}

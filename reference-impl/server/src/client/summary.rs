//! Human-readable summaries of a client [`Outcome`] (for the CLI and logs), and the verdict
//! a command line turns into its exit status.

use mtp_proto::smtp::client::{DropReason, Feature, Outcome, RcptStatus};

/// What a finished session amounts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every message reached every recipient.
    Delivered,
    /// Something was refused for good (a message, or one recipient).
    Refused,
    /// Something failed transiently and may succeed later.
    Deferred,
}

/// The session's verdict: [`Verdict::Refused`] if anything was refused permanently, else
/// [`Verdict::Deferred`] if anything failed transiently or a recipient was not tried, else
/// [`Verdict::Delivered`].
pub fn verdict(outcome: &Outcome) -> Verdict {
    let mut deferred = outcome.error.as_ref().is_some_and(|e| e.transient);
    for message in &outcome.messages {
        match &message.result {
            Err(f) if !f.transient => return Verdict::Refused,
            Err(_) => deferred = true,
            Ok(_) => {}
        }
        for r in &message.recipients {
            match &r.status {
                RcptStatus::Refused(reply) if reply.code.is_permanent() => return Verdict::Refused,
                RcptStatus::Refused(_) | RcptStatus::NotTried => deferred = true,
                RcptStatus::Accepted(_) => {}
            }
        }
    }
    if deferred {
        Verdict::Deferred
    } else {
        Verdict::Delivered
    }
}

/// Lines for standard output and warnings (dropped VMTP features, unsent metadata).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Per message: delivered (with its id and the server's reply), not delivered and why, or
    /// outcome unknown, then each recipient's status; last the connection's security and the
    /// features used.
    pub lines: Vec<String>,
    /// Features the session went on without, with the consequence, and metadata not sent.
    pub warnings: Vec<String>,
}

/// Describes `outcome` for a person: see [`Summary`]'s fields.
pub fn summarize(outcome: &Outcome) -> Summary {
    let mut s = Summary::default();
    for (i, m) in outcome.messages.iter().enumerate() {
        let label = if outcome.messages.len() > 1 {
            format!("message {}: ", i + 1)
        } else {
            String::new()
        };
        match &m.result {
            Ok(d) => {
                let id = d.id.as_deref().unwrap_or("(the server named none)");
                s.lines.push(format!("{label}delivered, message id {id}"));
                let reply = &d.reply;
                s.lines
                    .push(format!("  server: {} {}", reply.code, reply.text()));
            }
            Err(f) if f.outcome_unknown => s.lines.push(format!("{label}outcome unknown: {f}")),
            Err(f) => s.lines.push(format!("{label}not delivered: {f}")),
        }
        for r in &m.recipients {
            let status = match &r.status {
                RcptStatus::Accepted(_) => "accepted".to_string(),
                RcptStatus::Refused(reply) => format!("refused: {} {}", reply.code, reply.text()),
                RcptStatus::NotTried => "not tried".to_string(),
            };
            s.lines.push(format!("  <{}> {status}", r.mailbox));
        }
        if m.read_ack {
            s.lines
                .push("  read receipt requested (VMTP READACK)".into());
        }
        if !m.dropped_metadata.is_empty() {
            let why = outcome
                .dropped
                .iter()
                .find(|d| d.feature == Feature::VmtpMetadata)
                .map_or_else(|| "the server refused it".to_string(), |d| d.to_string());
            let keys = m.dropped_metadata.join(", ");
            s.warnings
                .push(format!("{why}; metadata {keys} was not sent"));
        }
    }
    for d in outcome
        .dropped
        .iter()
        .filter(|d| d.feature != Feature::VmtpMetadata)
    {
        let quiet = d.feature == Feature::VmtpEncrypt && outcome.tls;
        let consequence = match d.feature {
            Feature::VmtpVecmail => "; used MAIL FROM and RCPT TO instead",
            Feature::VmtpReadAck => "; no read receipt was requested",
            Feature::VmtpBatch => "; sent one transaction per message",
            Feature::VmtpEncrypt => "; went on without VMTP encryption",
            _ => "",
        };
        if !quiet && d.reason != DropReason::Disabled {
            s.warnings.push(format!("{d}{consequence}"));
        }
    }
    let security = if outcome.tls { "TLS" } else { "plain text" };
    s.lines.push(format!("connection: {security}"));
    if !outcome.used.is_empty() {
        let used: Vec<String> = outcome.used.iter().map(ToString::to_string).collect();
        s.lines.push(format!("features used: {}", used.join(", ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtp_proto::smtp::client::{DroppedFeature, Failure, MessageOutcome, RecipientResult};
    use mtp_proto::smtp::{Mailbox, reply::Reply, reply::ReplyCode};

    #[test]
    fn warns_about_dropped_metadata_and_judges() {
        let refused = Reply::new(ReplyCode::INSUFFICIENT_STORAGE, None, "later");
        let outcome = Outcome {
            messages: vec![MessageOutcome {
                result: Err(Failure::from_reply("every recipient was refused", &refused)),
                recipients: vec![RecipientResult {
                    mailbox: Mailbox::parse("b@x.test").unwrap(),
                    status: RcptStatus::Refused(refused),
                }],
                dropped_metadata: vec!["k".into()],
                read_ack: false,
                used: Vec::new(),
            }],
            dropped: vec![DroppedFeature {
                feature: Feature::VmtpMetadata,
                reason: DropReason::NotOffered,
            }],
            ..Outcome::default()
        };
        let s = summarize(&outcome);
        assert_eq!(
            s.warnings,
            ["the server does not support VMTP METADATA; metadata k was not sent"]
        );
        assert!(s.lines[1].contains("<b@x.test> refused: 452 later"));
        assert_eq!(verdict(&outcome), Verdict::Deferred);
    }
}

//! Reading relay cases (`scenarios/relay/*.yaml`): YAML into [`RelayCase`]s, typed with serde
//! and `deny_unknown_fields`, with errors naming the file, line and field (the scenario
//! crate's [`ScenarioError`]); the next hop's script is read by servetest's own loader, so it
//! has exactly the form of a client case's `server:`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::content;
use super::model::{Check, Judgement, LaterAfter, Message, OnRefused, RelayCase};
use crate::servetest::load::{RawJudgement, RawServer, build_server, command_regex, spec_id};
use mtpspec_scenario::ScenarioError;
use mtpspec_scenario::load::{cases_from, cases_in, cases_under, check_id_and_title};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    id: String,
    title: String,
    description: Option<String>,
    #[serde(default)]
    refused: OnRefused,
    message: Spanned<RawMessage>,
    #[serde(default)]
    next_hop: RawServer,
    later: Option<RawServer>,
    #[serde(default)]
    later_after: LaterAfter,
    judge: Vec<Spanned<RawJudgement<RawCheck>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessage {
    reverse_path: Option<String>,
    recipients: Option<Vec<String>>,
    #[serde(default)]
    body_8bitmime: bool,
    #[serde(default)]
    smtputf8: bool,
    ending: Option<String>,
    content: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum RawCheck {
    CrlfOnly,
    SevenBit,
    MaxCopies(u32),
    Copies(u32),
    Never(String),
    WaitsForReply(String),
    ContentUnchanged,
    ReceivedOnTop,
    ReceivedKept,
    Retried,
    Notification,
    NoNotification,
    Dsn,
    NamesOnlyRefused,
    AcceptedDelivered,
    LineLimit,
    DotStuffed,
    ContentNotSent,
    AsciiEnvelopeAndHeaders,
    ReversePathKept,
    RecipientsKept,
    OneTransaction,
    Sends(String),
    NextCommand { after: String, expect: String },
    WaitsForReplyUnderTls(String),
    FirstConnectionQuits,
    FirstConnectionNever(String),
}

/// Loads every `*.yaml` file under `paths` (files or directories, in path order).
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<RelayCase>, ScenarioError> {
    cases_under(paths, load_str)
}

/// The relay cases bundled with this binary (`scenarios/relay`).
pub fn bundled_cases() -> Result<Vec<RelayCase>, ScenarioError> {
    cases_from(
        mtpspec_runner::bundled::yaml_under("scenarios/relay"),
        load_str,
    )
}

/// Loads the relay cases in `source`, reporting errors against `path`.
pub fn load_str(source: &str, path: &Path) -> Result<Vec<RelayCase>, ScenarioError> {
    cases_in::<RawCase, _>(source, path, build_case)
}

fn build_case(raw: Spanned<RawCase>, path: &Path) -> Result<RelayCase, ScenarioError> {
    let (line, column) = (raw.referenced.line(), raw.referenced.column());
    let raw = raw.value;
    let bad =
        |field: &str, message: String| ScenarioError::invalid(path, line, column, field, message);
    check_id_and_title(&raw.id, &raw.title).map_err(|(field, message)| bad(field, message))?;
    if raw.judge.is_empty() {
        return Err(bad("judge", format!("case `{}` judges nothing", raw.id)));
    }
    let message = build_message(raw.message, path)?;
    let next_hop = Arc::new(build_server(raw.next_hop, path)?);
    let later = match raw.later {
        Some(script) => Arc::new(build_server(script, path)?),
        None => Arc::clone(&next_hop),
    };
    let judge = raw
        .judge
        .into_iter()
        .map(|j| build_judgement(j, path))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RelayCase {
        id: raw.id,
        title: raw.title,
        description: raw.description,
        message,
        refused: raw.refused,
        next_hop,
        later,
        later_after: raw.later_after,
        judge,
        file: path.to_path_buf(),
        line,
    })
}

fn build_message(raw: Spanned<RawMessage>, path: &Path) -> Result<Message, ScenarioError> {
    let (line, column) = (raw.referenced.line(), raw.referenced.column());
    let raw = raw.value;
    let invalid =
        |field: &str, message: String| ScenarioError::invalid(path, line, column, field, message);
    content::check_placeholders(&raw.content).map_err(|m| invalid("content", m))?;
    if raw.content.is_empty() {
        return Err(invalid("content", "the message has no content".into()));
    }
    let reverse_path = raw.reverse_path.unwrap_or_else(|| "{{sender}}".into());
    content::check_placeholders(&reverse_path).map_err(|m| invalid("reverse_path", m))?;
    let recipients = raw.recipients.unwrap_or_else(|| vec!["{{rcpt}}".into()]);
    if recipients.is_empty() {
        return Err(invalid("recipients", "the message has no recipient".into()));
    }
    for r in &recipients {
        content::check_placeholders(r).map_err(|m| invalid("recipients", m))?;
        // The next hop tells the case's sessions apart by the token in their commands.
        if !r.contains("{{token}}") && !r.contains("{{rcpt}}") {
            return Err(invalid(
                "recipients",
                format!("{r:?} names neither {{{{token}}}} nor {{{{rcpt}}}}"),
            ));
        }
    }
    Ok(Message {
        reverse_path,
        recipients,
        body_8bitmime: raw.body_8bitmime,
        smtputf8: raw.smtputf8,
        content: raw.content,
        ending: raw.ending,
    })
}

fn build_judgement(
    raw: Spanned<RawJudgement<RawCheck>>,
    path: &Path,
) -> Result<Judgement, ScenarioError> {
    let (line, column) = (raw.referenced.line(), raw.referenced.column());
    let raw = raw.value;
    let invalid =
        |field: &str, message: String| ScenarioError::invalid(path, line, column, field, message);
    spec_id(&raw.spec, "SMTP-RELAY-1").map_err(|m| invalid("spec", m))?;
    let re = |field: &str, p: &str| command_regex(p).map_err(|m| invalid(field, m));
    let check = match raw.check {
        RawCheck::CrlfOnly => Check::CrlfOnly,
        RawCheck::SevenBit => Check::SevenBit,
        RawCheck::MaxCopies(n) => Check::MaxCopies(n),
        RawCheck::Copies(n) => Check::Copies(n),
        RawCheck::Never(p) => Check::Never(re("never", &p)?),
        RawCheck::WaitsForReply(p) => Check::WaitsForReply(re("waits_for_reply", &p)?),
        RawCheck::ContentUnchanged => Check::ContentUnchanged,
        RawCheck::ReceivedOnTop => Check::ReceivedOnTop,
        RawCheck::ReceivedKept => Check::ReceivedKept,
        RawCheck::Retried => Check::Retried,
        RawCheck::Notification => Check::Notification,
        RawCheck::NoNotification => Check::NoNotification,
        RawCheck::Dsn => Check::Dsn,
        RawCheck::NamesOnlyRefused => Check::NamesOnlyRefused,
        RawCheck::AcceptedDelivered => Check::AcceptedDelivered,
        RawCheck::LineLimit => Check::LineLimit,
        RawCheck::DotStuffed => Check::DotStuffed,
        RawCheck::ContentNotSent => Check::ContentNotSent,
        RawCheck::AsciiEnvelopeAndHeaders => Check::AsciiEnvelopeAndHeaders,
        RawCheck::ReversePathKept => Check::ReversePathKept,
        RawCheck::RecipientsKept => Check::RecipientsKept,
        RawCheck::OneTransaction => Check::OneTransaction,
        RawCheck::Sends(p) => Check::Sends(re("sends", &p)?),
        RawCheck::NextCommand { after, expect } => Check::NextCommand {
            after: re("after", &after)?,
            expect: re("expect", &expect)?,
        },
        RawCheck::WaitsForReplyUnderTls(p) => {
            Check::WaitsForReplyUnderTls(re("waits_for_reply_under_tls", &p)?)
        }
        RawCheck::FirstConnectionQuits => Check::FirstConnectionQuits,
        RawCheck::FirstConnectionNever(p) => {
            Check::FirstConnectionNever(re("first_connection_never", &p)?)
        }
    };
    Ok(Judgement {
        spec: raw.spec,
        level: raw.level,
        check,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtpspec_scenario::Level;

    const GOOD: &str = r#"
- id: relay-x
  title: a case
  refused: pass
  message:
    ending: "<LF>.<LF>"
    content: "Subject: {{token}}\r\n\r\nbefore\n.\nafter{{x80}}\r\n"
  next_hop:
    ehlo: [8BITMIME]
    rules:
      - {on: "RCPT TO:<rcpt-", nth: 1, reply: "451 4.3.0 later"}
  later: {}
  judge:
    - {spec: SMTP-RELAY-1, level: must, check: crlf_only}
    - {spec: SMTP-RELAY-1, level: must, check: {max_copies: 1}}
    - {spec: SMTP-CLIENT-3, level: must, check: {waits_for_reply: "."}}
"#;

    #[test]
    fn loads_a_case() {
        let cases = load_str(GOOD, Path::new("r.yaml")).unwrap();
        let case = &cases[0];
        assert_eq!(case.refused, OnRefused::Pass);
        assert_eq!(case.smuggled_ending(), Some("<LF>.<LF>"));
        assert_eq!(case.next_hop.rules.len(), 1);
        assert!(case.later.rules.is_empty());
        assert!(!case.next_hop.advertises("PIPELINING"));
        assert!(matches!(case.judge[1].check, Check::MaxCopies(1)));
        assert_eq!(case.judge[2].line, 16);
        assert_eq!(case.spec(), ["SMTP-RELAY-1", "SMTP-CLIENT-3"]);
        assert_eq!(case.level(), Level::Must);
    }

    fn err(source: &str) -> String {
        load_str(source, Path::new("r/bad.yaml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = err(&GOOD.replace("crlf_only}", "crlf_onyl}"));
        assert!(e.starts_with("r/bad.yaml:14:"), "{e}");
        assert!(e.contains("crlf_onyl"), "{e}");
        let e = err(&GOOD.replace("    ending:", "    endng:"));
        assert!(e.starts_with("r/bad.yaml:6:"), "{e}");
        assert!(e.contains("`endng`"), "{e}");
        let e = err(&GOOD.replace("{{x80}}", "{{nope}}"));
        assert!(e.starts_with("r/bad.yaml:6:5: field `content`"), "{e}");
        let e = err(&GOOD.replace(
            "spec: SMTP-RELAY-1, level: must, check: crlf",
            "spec: relay-1, level: must, check: crlf",
        ));
        assert!(e.starts_with("r/bad.yaml:14:"), "{e}");
        assert!(e.contains("field `spec`"), "{e}");
        let e = err(&GOOD.replace("reply: \"451", "reply: \"x451"));
        assert!(e.contains("field `reply`"), "{e}");
        let e = err(&GOOD.replace("    ending:", "    recipients: [x@relay.test]\n    ending:"));
        assert!(e.contains("field `recipients`"), "{e}");
        let e = err(&format!("{GOOD}{}", GOOD.replace("\n- id", "- id")));
        assert!(e.contains("duplicate case id `relay-x`"), "{e}");
    }
}

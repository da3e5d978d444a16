//! One-command sessions, VMTP STATUS in particular: connect, EHLO (TLS as configured), send
//! `STATUS <id>`, read the one reply and say what it means.
//!
//! DESIGN: `STATUS <message-id>` answers `250 <id> PENDING|DELIVERED|OPENED [time]`; an
//! unknown id gets 550. A server without VMTP answers 500 or 502.

use mtp_proto::smtp::client::{ClientOptions, Failure, Outcome};
use mtp_proto::smtp::command::Command;
use mtp_proto::smtp::reply::{Reply, ReplyCode};

use super::{Target, Timeouts};

/// What a STATUS lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusAnswer {
    /// A 2yz reply: the server knows the message.
    Known {
        /// The message id as the reply gave it, angle brackets removed.
        id: String,
        /// The state word, upper-cased: PENDING, DELIVERED or OPENED from a VMTP server.
        state: String,
        /// The time the server gave after the state, as written, if any.
        at: Option<String>,
    },
    /// The server knows STATUS but not this id (550).
    Unknown(Reply),
    /// The server does not offer VMTP STATUS (not advertised, or 500/502).
    NotOffered(Option<Reply>),
    /// The session failed, or the reply made no sense.
    Failed(Failure),
}

/// Asks `target` for the state of message `id`; the outcome carries the transcript.
pub async fn query_status(
    target: &Target,
    options: ClientOptions,
    id: &str,
    timeouts: &Timeouts,
) -> (StatusAnswer, Outcome) {
    let command = Command::Status(id.to_string());
    let outcome = super::command(target, options, command, timeouts).await;
    (interpret(&outcome), outcome)
}

/// Reads the outcome of a STATUS command session.
pub fn interpret(outcome: &Outcome) -> StatusAnswer {
    let Some(reply) = &outcome.command_reply else {
        let failure = outcome
            .error
            .clone()
            .unwrap_or_else(|| Failure::new(true, "no reply to STATUS"));
        return StatusAnswer::Failed(failure);
    };
    let offered = outcome.extensions.vmtp_verb("STATUS");
    match reply.code {
        code if code.is_positive() => parse_known(reply),
        ReplyCode::SYNTAX_ERROR | ReplyCode::NOT_IMPLEMENTED => {
            StatusAnswer::NotOffered(Some(reply.clone()))
        }
        code if code.is_permanent() && offered => StatusAnswer::Unknown(reply.clone()),
        code if code.is_permanent() => StatusAnswer::NotOffered(Some(reply.clone())),
        _ => StatusAnswer::Failed(Failure::from_reply("STATUS failed", reply)),
    }
}

/// `<id> STATE [time]`, the enhanced code already taken off by the reply parser.
fn parse_known(reply: &Reply) -> StatusAnswer {
    let text = reply.text();
    let mut words = text.split_whitespace();
    let (Some(id), Some(state)) = (words.next(), words.next()) else {
        return StatusAnswer::Failed(Failure::from_reply("STATUS reply is malformed", reply));
    };
    StatusAnswer::Known {
        id: id.trim_matches(|c| c == '<' || c == '>').to_string(),
        state: state.to_ascii_uppercase(),
        at: words.next().map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtp_proto::smtp::extension::Extensions;

    fn outcome(reply: &str, ehlo: &[&str]) -> Outcome {
        let mut parser = mtp_proto::smtp::reply::ReplyParser::new();
        parser.feed(reply.as_bytes());
        let ehlo_reply = Reply::multiline(
            ReplyCode::OK,
            None,
            ehlo.iter().map(|s| s.to_string()).collect(),
        );
        Outcome {
            command_reply: Some(parser.next_reply().unwrap().unwrap()),
            extensions: Extensions::from_ehlo(&ehlo_reply),
            ..Outcome::default()
        }
    }

    #[test]
    fn reads_states_unknown_ids_and_missing_support() {
        let vmtp = ["mx", "VMTP STATUS"];
        let answer = interpret(&outcome(
            "250 2.0.0 ID1 OPENED 2026-11-22T20:00:00Z\r\n",
            &vmtp,
        ));
        assert_eq!(
            answer,
            StatusAnswer::Known {
                id: "ID1".into(),
                state: "OPENED".into(),
                at: Some("2026-11-22T20:00:00Z".into())
            }
        );
        let answer = interpret(&outcome("550 5.1.0 ID9 Unknown message id\r\n", &vmtp));
        assert!(matches!(answer, StatusAnswer::Unknown(_)));
        let answer = interpret(&outcome("502 5.5.1 no\r\n", &vmtp));
        assert!(matches!(answer, StatusAnswer::NotOffered(_)));
        let answer = interpret(&outcome("550 what\r\n", &["mx"]));
        assert!(matches!(answer, StatusAnswer::NotOffered(_)));
        let answer = interpret(&outcome("451 later\r\n", &vmtp));
        assert!(matches!(answer, StatusAnswer::Failed(f) if f.transient));
    }
}

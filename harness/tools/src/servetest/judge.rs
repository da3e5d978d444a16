//! Judging a client from the record of a case: each judgement gives PASS, or the verdict its
//! level calls for (FAIL for a MUST, WARN for a SHOULD, UNSUPPORTED for a MAY), or SKIP when
//! the case never reached the point it is about (say, the client gave up before the command
//! the check looks at). The case's verdict is the worst of its judgements.

use serde::{Deserialize, Serialize};

use super::client::ClientRun;
use super::model::{Check, ExitExpect, Judgement, pat};
use super::record::{Event, EventKind};
use mtpspec_runner::runner::Verdict;
use mtpspec_scenario::Level;

/// The outcome of one judgement.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Judged {
    /// The requirement judged.
    pub spec: String,
    /// The judgement's level.
    pub level: Level,
    /// What was checked, in one line.
    pub check: String,
    /// PASS, the verdict the level calls for, or SKIP.
    pub verdict: Verdict,
    /// What was seen, when the verdict is not PASS.
    pub detail: Option<String>,
}

/// What one check found (client and relay checks alike).
pub enum Finding {
    /// The requirement holds.
    Ok,
    /// It does not: what was seen.
    Broken(String),
    /// The case never got to the point the check is about: why.
    NotReached(String),
}

impl Finding {
    /// The judgement of `spec` at `level` (`check` describes it): PASS, the verdict the level
    /// calls for, or SKIP.
    pub fn judged(self, spec: &str, level: Level, check: String) -> Judged {
        let (verdict, detail) = match self {
            Finding::Ok => (Verdict::Pass, None),
            Finding::Broken(why) => (Verdict::for_failure(level), Some(why)),
            Finding::NotReached(why) => (Verdict::Skip, Some(why)),
        };
        Judged {
            spec: spec.to_string(),
            level,
            check,
            verdict,
            detail,
        }
    }
}

/// Judges every judgement of a case.
pub fn judge_all(judge: &[Judgement], events: &[Event], client: Option<&ClientRun>) -> Vec<Judged> {
    judge
        .iter()
        .map(|j| check(&j.check, events, client).judged(&j.spec, j.level, j.check.describe()))
        .collect()
}

/// Why a case got `verdict`, from the first judgement that gave it (none for PASS): the check,
/// the requirement and level, and what was seen.
pub fn verdict_reason(judged: &[Judged], verdict: Verdict) -> Option<String> {
    judged
        .iter()
        .find(|j| j.verdict == verdict && verdict != Verdict::Pass)
        .map(|j| {
            format!(
                "{} ({} {}): {}",
                j.check,
                j.spec,
                j.level,
                j.detail.as_deref().unwrap_or("")
            )
        })
}

/// The worst verdict: FAIL, then WARN, UNSUPPORTED, PASS; SKIP only when all are SKIP.
pub fn case_verdict(judged: &[Judged]) -> Verdict {
    let rank = |v: Verdict| match v {
        Verdict::Error => 6,
        Verdict::Fail => 5,
        Verdict::Warn => 4,
        Verdict::Unsupported => 3,
        Verdict::Pass => 2,
        Verdict::Skip => 1,
    };
    judged
        .iter()
        .map(|j| j.verdict)
        .max_by_key(|v| rank(*v))
        .unwrap_or(Verdict::Skip)
}

/// Command events: (index, connection, line).
fn commands(events: &[Event]) -> impl Iterator<Item = (usize, u32, &str)> {
    events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match &e.kind {
            EventKind::Command { line, .. } => Some((i, e.conn, line.as_str())),
            _ => None,
        })
}

/// The index of the reply to event `to`, if one was sent.
fn reply_to(events: &[Event], to: usize) -> Option<usize> {
    events
        .iter()
        .position(|e| matches!(e.kind, EventKind::Reply { answers: Some(a), .. } if a == to))
}

fn first_data(events: &[Event]) -> Option<&str> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::Data {
            text,
            complete: true,
        } => Some(text.as_str()),
        _ => None,
    })
}

/// What `check` finds in `events` (and the client's run, when there was one); relay mode
/// judges the commands the target sent the next hop with it.
pub(crate) fn check(check: &Check, events: &[Event], client: Option<&ClientRun>) -> Finding {
    match check {
        Check::Never(re) => match commands(events).find(|(_, _, l)| re.is_match(l)) {
            Some((_, conn, line)) => Finding::Broken(format!("sent `{line}` on connection {conn}")),
            None => Finding::Ok,
        },
        Check::Sends(re) => match commands(events).find(|(_, _, l)| re.is_match(l)) {
            Some(_) => Finding::Ok,
            None => Finding::Broken(format!("sent no command matching /{}/", pat(re))),
        },
        Check::MaxCount { pattern, max } => {
            let n = commands(events)
                .filter(|(_, _, l)| pattern.is_match(l))
                .count();
            if n <= *max as usize {
                Finding::Ok
            } else {
                Finding::Broken(format!("sent /{}/ {n} times", pat(pattern)))
            }
        }
        Check::Output(re) => match client {
            None => Finding::NotReached("no --client-cmd: the output is not known".into()),
            Some(run) if re.is_match(&run.output) => Finding::Ok,
            Some(_) => Finding::Broken(format!("the output does not match /{}/", pat(re))),
        },
        Check::NothingAfter {
            reply_to: to,
            allow,
        } => {
            let Some((cmd, conn, line)) = commands(events).find(|(_, _, l)| to.is_match(l)) else {
                return Finding::NotReached(format!("the client never sent /{}/", pat(to)));
            };
            let Some(reply) = reply_to(events, cmd) else {
                return Finding::NotReached(format!("`{line}` was never answered"));
            };
            let extra = commands(events).find(|(i, c, l)| {
                *i > reply && *c == conn && !allow.as_ref().is_some_and(|a| a.is_match(l))
            });
            match extra {
                Some((_, _, l)) => {
                    Finding::Broken(format!("sent `{l}` after the reply to `{line}`"))
                }
                None => Finding::Ok,
            }
        }
        Check::NextCommand { after, expect } => {
            let Some((cmd, conn, line)) = commands(events).find(|(_, _, l)| after.is_match(l))
            else {
                return Finding::NotReached(format!("the client never sent /{}/", pat(after)));
            };
            let Some(reply) = reply_to(events, cmd) else {
                return Finding::NotReached(format!("`{line}` was never answered"));
            };
            match commands(events).find(|(i, c, _)| *i > reply && *c == conn) {
                Some((_, _, next)) if expect.is_match(next) => Finding::Ok,
                Some((_, _, next)) => {
                    Finding::Broken(format!("sent `{next}` after the reply to `{line}`"))
                }
                None => Finding::Broken(format!("sent no command after the reply to `{line}`")),
            }
        }
        Check::WaitsForReply(re) => waits_for_reply(re, events),
        // RFC 5321 §3.1: "An SMTP session is initiated when a client opens a connection to a
        // server and the server responds with an opening message." The client speaks after it.
        Check::SilentBeforeGreeting => {
            let greeting = events.iter().position(|e| {
                e.conn == 1 && matches!(e.kind, EventKind::Reply { answers: None, .. })
            });
            let early =
                commands(events).find(|(i, c, _)| *c == 1 && greeting.is_none_or(|g| *i < g));
            match early {
                Some((_, _, l)) => Finding::Broken(format!("sent `{l}` before the greeting")),
                None => Finding::Ok,
            }
        }
        Check::Delivered(n) => {
            let delivered = delivered(events);
            if delivered == *n as usize {
                Finding::Ok
            } else {
                Finding::Broken(format!("{delivered} message(s) delivered"))
            }
        }
        Check::DataLines { include, exclude } => {
            let Some(data) = first_data(events) else {
                return Finding::Broken("no complete message data arrived".into());
            };
            // Lines split at any line end, so that dot-stuffing is judged apart from CRLF.
            let lines: Vec<&str> = data
                .split('\n')
                .map(|l| l.strip_suffix('\r').unwrap_or(l))
                .collect();
            if let Some(missing) = include.iter().find(|l| !lines.contains(&l.as_str())) {
                return Finding::Broken(format!("no data line {missing:?}"));
            }
            match exclude.iter().find(|l| lines.contains(&l.as_str())) {
                Some(bad) => Finding::Broken(format!("data line {bad:?} was sent")),
                None => Finding::Ok,
            }
        }
        Check::DataCrlf => {
            let Some(data) = first_data(events) else {
                return Finding::Broken("no complete message data arrived".into());
            };
            match bare_line_end(data.as_bytes()) {
                Some((what, at)) => Finding::Broken(format!("bare {what} at data octet {at}")),
                None => Finding::Ok,
            }
        }
        Check::MaxConnections(n) => {
            let count = events
                .iter()
                .filter(|e| matches!(e.kind, EventKind::Connected))
                .count();
            if count <= *n as usize {
                Finding::Ok
            } else {
                Finding::Broken(format!("{count} connections"))
            }
        }
        // RFC 5321 §4.1.1.10: "The sender MUST NOT intentionally close the transmission channel
        // until it sends a QUIT command ... (even if there was an error response to a previous
        // command)".
        Check::EndsWithQuit => match commands(events).filter(|(_, c, _)| *c == 1).last() {
            Some((_, _, l)) if l.eq_ignore_ascii_case("QUIT") => Finding::Ok,
            Some((_, _, l)) => Finding::Broken(format!("the last command was `{l}`")),
            None => Finding::Broken("sent no command".into()),
        },
        Check::Exit(expect) => exit(*expect, client),
    }
}

/// RFC 2920 §3.1 and RFC 5321 §4.3: without PIPELINING each command waits for its reply; a
/// command that arrives between another and that one's reply was sent without waiting.
fn waits_for_reply(re: &regex::Regex, events: &[Event]) -> Finding {
    let mut seen = false;
    for (cmd, conn, line) in commands(events).filter(|(_, _, l)| re.is_match(l)) {
        seen = true;
        let until = reply_to(events, cmd).unwrap_or(events.len());
        if let Some((_, _, early)) =
            commands(events).find(|(i, c, _)| *i > cmd && *i < until && *c == conn)
        {
            return Finding::Broken(format!("sent `{early}` before the reply to `{line}`"));
        }
    }
    if seen {
        Finding::Ok
    } else {
        Finding::NotReached(format!("the client never sent /{}/", pat(re)))
    }
}

/// Messages whose end of data got a 2yz reply.
fn delivered(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| match &e.kind {
            EventKind::Reply {
                lines,
                answers: Some(a),
            } => {
                matches!(events[*a].kind, EventKind::Data { complete: true, .. })
                    && lines.first().is_some_and(|l| l.starts_with('2'))
            }
            _ => false,
        })
        .count()
}

/// RFC 5321 §2.3.8: "SMTP client implementations MUST NOT transmit these characters except
/// when they are intended as line terminators and then MUST, as indicated above, transmit them
/// only as a `<CRLF>` sequence." The first LF not after a CR, or CR not before an LF: its
/// name and offset.
pub fn bare_line_end(data: &[u8]) -> Option<(&'static str, usize)> {
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' && (i == 0 || data[i - 1] != b'\r') {
            return Some(("LF", i));
        }
        if b == b'\r' && data.get(i + 1) != Some(&b'\n') {
            return Some(("CR", i));
        }
    }
    None
}

fn exit(expect: ExitExpect, client: Option<&ClientRun>) -> Finding {
    let Some(run) = client else {
        return Finding::NotReached("no --client-cmd: the exit status is not known".into());
    };
    match (run.exit_code, expect) {
        (None, _) if run.timed_out => {
            Finding::Broken("the client did not exit before the case deadline".into())
        }
        (None, _) => Finding::Broken("the client was killed by a signal".into()),
        (Some(0), ExitExpect::Success) | (Some(1..), ExitExpect::Failure) => Finding::Ok,
        (Some(code), _) => Finding::Broken(format!("exit status {code}")),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::servetest::record::Side;

    fn ev(conn: u32, kind: EventKind) -> Event {
        Event {
            conn,
            at: Duration::ZERO,
            kind,
        }
    }

    fn cmd(line: &str) -> EventKind {
        EventKind::Command {
            line: line.into(),
            tls: false,
        }
    }

    fn reply(code: &str, answers: usize) -> EventKind {
        EventKind::Reply {
            lines: vec![code.into()],
            answers: Some(answers),
        }
    }

    fn re(p: &str) -> regex::Regex {
        regex::Regex::new(&format!("(?i)^(?:{p})")).unwrap()
    }

    fn run(c: Check, events: &[Event]) -> Finding {
        check(&c, events, None)
    }

    #[test]
    fn pipelined_command_before_reply_is_caught() {
        let events = [
            ev(1, cmd("MAIL FROM:<a@b>")),
            ev(1, cmd("RCPT TO:<c@d>")),
            ev(1, reply("250", 0)),
            ev(1, reply("250", 1)),
        ];
        assert!(matches!(
            run(Check::WaitsForReply(re(".")), &events),
            Finding::Broken(_)
        ));
        let in_order = [
            ev(1, cmd("MAIL FROM:<a@b>")),
            ev(1, reply("250", 0)),
            ev(1, cmd("RCPT TO:<c@d>")),
            ev(1, reply("250", 2)),
        ];
        assert!(matches!(
            run(Check::WaitsForReply(re(".")), &in_order),
            Finding::Ok
        ));
    }

    #[test]
    fn commands_after_421_are_caught_except_allowed() {
        let events = [
            ev(1, cmd("RCPT TO:<c@d>")),
            ev(1, reply("421 bye", 0)),
            ev(1, cmd("QUIT")),
            ev(1, cmd("DATA")),
            ev(1, EventKind::Closed { by: Side::Server }),
        ];
        let c = Check::NothingAfter {
            reply_to: re("RCPT"),
            allow: Some(re("QUIT")),
        };
        assert!(matches!(run(c, &events), Finding::Broken(m) if m.contains("DATA")));
        let c = Check::NothingAfter {
            reply_to: re("RCPT"),
            allow: Some(re("QUIT")),
        };
        assert!(matches!(run(c, &events[..3]), Finding::Ok));
        let c = Check::NothingAfter {
            reply_to: re("MAIL"),
            allow: None,
        };
        assert!(matches!(run(c, &events), Finding::NotReached(_)));
    }

    #[test]
    fn data_checks() {
        let data = |text: &str| {
            [
                ev(1, cmd("DATA")),
                ev(1, reply("354", 0)),
                ev(
                    1,
                    EventKind::Data {
                        text: text.into(),
                        complete: true,
                    },
                ),
                ev(1, reply("250 ok", 2)),
            ]
        };
        assert_eq!(delivered(&data("a\r\n")), 1);
        assert!(
            matches!(run(Check::DataCrlf, &data("a\r\nb\nc\r\n")), Finding::Broken(m) if m.contains("LF"))
        );
        assert!(matches!(run(Check::DataCrlf, &data("a\r\n")), Finding::Ok));
        let lines = Check::DataLines {
            include: vec!["..x".into()],
            exclude: vec![".x".into()],
        };
        assert!(matches!(run(lines.clone(), &data("..x\r\n")), Finding::Ok));
        assert!(matches!(run(lines, &data(".x\r\n")), Finding::Broken(_)));
    }

    #[test]
    fn verdict_follows_level_and_worst_wins() {
        let j = |verdict| Judged {
            spec: "SMTP-CLIENT-1".into(),
            level: Level::Must,
            check: String::new(),
            verdict,
            detail: None,
        };
        assert_eq!(
            case_verdict(&[j(Verdict::Pass), j(Verdict::Warn)]),
            Verdict::Warn
        );
        assert_eq!(
            case_verdict(&[j(Verdict::Skip), j(Verdict::Pass)]),
            Verdict::Pass
        );
        assert_eq!(case_verdict(&[j(Verdict::Skip)]), Verdict::Skip);
        assert_eq!(
            case_verdict(&[j(Verdict::Fail), j(Verdict::Warn)]),
            Verdict::Fail
        );
    }
}

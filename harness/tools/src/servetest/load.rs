//! Reading client scenarios (`scenarios/clients/*.yaml`): YAML into [`ClientCase`]s, typed with
//! serde and `deny_unknown_fields`, with errors naming the file, line and field (the same
//! [`ScenarioError`] the server-side loader returns), and the checks serde cannot do (unique
//! ids, requirement ID format, regexes that compile, STARTTLS advertised when a case uses it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::model::{
    Check, ClientCase, END_OF_DATA, ExitExpect, Feature, Judgement, Mode, Rule, ServerScript,
};
use mtpspec_scenario::expect::OneOrMany;
use mtpspec_scenario::load::{cases_from, cases_in, cases_under, check_id_and_title};
use mtpspec_scenario::{Level, ScenarioError, is_spec_id};

/// The sender a case uses unless it names its own.
pub const DEFAULT_FROM: &str = "alice@client.example";
/// The recipient a case uses unless it names its own.
pub const DEFAULT_TO: &str = "bob@serve-test.example";
/// The message a client sends unless the case gives one: LF line endings, as a file on disk
/// usually has them (the client turns them into CRLF).
pub const DEFAULT_BODY: &str = "From: alice@client.example\nTo: bob@serve-test.example\nSubject: serve-test\n\nHello from a client under test.\n";
const DEFAULT_DEADLINE: Duration = Duration::from_secs(20);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    id: String,
    title: String,
    description: Option<String>,
    #[serde(default)]
    requires: Vec<Feature>,
    #[serde(default)]
    mode: Mode,
    from: Option<String>,
    to: Option<OneOrMany<String>>,
    body: Option<String>,
    deadline_ms: Option<u64>,
    #[serde(default)]
    server: RawServer,
    judge: Vec<Spanned<RawJudgement<RawCheck>>>,
}

/// A server script as written (`server:`); relay mode reads the next hop's script in the
/// same form.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    greeting: Option<OneOrMany<String>>,
    greeting_delay_ms: Option<u64>,
    ehlo: Option<Vec<String>>,
    ehlo_tls: Option<Vec<String>>,
    reply_delay_ms: Option<u64>,
    #[serde(default)]
    rules: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    on: String,
    nth: Option<u32>,
    reply: Option<OneOrMany<String>>,
    delay_ms: Option<u64>,
    #[serde(default)]
    inject: OneOrMany<String>,
    #[serde(default)]
    tls: bool,
    #[serde(default)]
    close: bool,
    linger_ms: Option<u64>,
}

/// A judgement as written (`{spec, level, check}`); relay cases write theirs in the same
/// form, with their own checks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJudgement<C> {
    pub(crate) spec: String,
    pub(crate) level: Level,
    pub(crate) check: C,
}

/// A requirement ID as a judgement cites it: the form of SPEC.md's IDs (`example` names one
/// in the error).
pub(crate) fn spec_id(spec: &str, example: &str) -> Result<(), String> {
    if is_spec_id(spec) {
        Ok(())
    } else {
        Err(format!("{spec:?} is not a requirement ID like {example}"))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum RawCheck {
    Never(String),
    Sends(String),
    MaxCount {
        pattern: String,
        max: u32,
    },
    Output(String),
    NothingAfter {
        reply_to: String,
        allow: Option<String>,
    },
    NextCommand {
        after: String,
        expect: String,
    },
    WaitsForReply(String),
    SilentBeforeGreeting,
    Delivered(u32),
    DataLines {
        #[serde(default)]
        include: Vec<String>,
        #[serde(default)]
        exclude: Vec<String>,
    },
    DataCrlf,
    MaxConnections(u32),
    EndsWithQuit,
    Exit(ExitExpect),
}

/// Loads every `*.yaml` file under `paths` (files or directories, in path order) and checks
/// that case ids are unique across them.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<ClientCase>, ScenarioError> {
    cases_under(paths, load_str)
}

/// The client cases bundled with this binary (`scenarios/clients`, [`mtpspec_runner::bundled`]).
pub fn bundled_cases() -> Result<Vec<ClientCase>, ScenarioError> {
    load_sources(mtpspec_runner::bundled::yaml_under("scenarios/clients"))
}

/// Loads client cases from files already in memory (path, contents).
pub fn load_sources<'a>(
    files: impl IntoIterator<Item = (&'a Path, &'a str)>,
) -> Result<Vec<ClientCase>, ScenarioError> {
    cases_from(files, load_str)
}

/// Loads the client cases in `source`, reporting errors against `path`.
pub fn load_str(source: &str, path: &Path) -> Result<Vec<ClientCase>, ScenarioError> {
    cases_in::<RawCase, _>(source, path, build_case)
}

fn invalid(path: &Path, line: u64, column: u64, field: &str, message: String) -> ScenarioError {
    ScenarioError::invalid(path, line, column, field, message)
}

/// A command pattern: case-insensitive, anchored at the start of the line.
pub(crate) fn command_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("(?i)^(?:{pattern})")).map_err(|e| format!("bad pattern {pattern:?}: {e}"))
}

fn build_case(raw: Spanned<RawCase>, path: &Path) -> Result<ClientCase, ScenarioError> {
    let (line, column) = (raw.referenced.line(), raw.referenced.column());
    let raw = raw.value;
    let bad = |field: &str, message: String| invalid(path, line, column, field, message);
    check_id_and_title(&raw.id, &raw.title).map_err(|(field, message)| bad(field, message))?;
    if raw.judge.is_empty() {
        return Err(bad("judge", format!("case `{}` judges nothing", raw.id)));
    }
    let server = build_server(raw.server, path)?;
    if raw.mode == Mode::Starttls && !server.advertises("STARTTLS") {
        return Err(bad(
            "mode",
            format!(
                "case `{}` asks the client for STARTTLS but `server.ehlo` does not advertise it",
                raw.id
            ),
        ));
    }
    let judge = raw
        .judge
        .into_iter()
        .map(|j| build_judgement(j, path))
        .collect::<Result<Vec<_>, _>>()?;
    let to = raw.to.map_or_else(|| vec![DEFAULT_TO.to_string()], |t| t.0);
    if to.is_empty() {
        return Err(bad("to", format!("case `{}` has no recipient", raw.id)));
    }
    Ok(ClientCase {
        id: raw.id,
        title: raw.title,
        description: raw.description,
        requires: raw.requires,
        mode: raw.mode,
        from: raw.from.unwrap_or_else(|| DEFAULT_FROM.to_string()),
        to,
        body: raw.body.unwrap_or_else(|| DEFAULT_BODY.to_string()),
        deadline: raw
            .deadline_ms
            .map_or(DEFAULT_DEADLINE, Duration::from_millis),
        server: Arc::new(server),
        judge,
        file: path.to_path_buf(),
        line,
    })
}

pub(crate) fn build_server(raw: RawServer, path: &Path) -> Result<ServerScript, ScenarioError> {
    let ehlo = raw.ehlo.unwrap_or_else(|| {
        [
            "PIPELINING",
            "8BITMIME",
            "ENHANCEDSTATUSCODES",
            "SIZE 10485760",
        ]
        .map(String::from)
        .to_vec()
    });
    let ehlo_tls = raw.ehlo_tls.unwrap_or_else(|| {
        ehlo.iter()
            .filter(|l| !l.eq_ignore_ascii_case("STARTTLS"))
            .cloned()
            .collect()
    });
    let rules = raw
        .rules
        .into_iter()
        .map(|r| build_rule(r, path))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ServerScript {
        greeting: raw.greeting.map_or_else(
            || vec!["220 serve-test.example ESMTP mtpspec serve-test".to_string()],
            |g| g.0,
        ),
        greeting_delay: Duration::from_millis(raw.greeting_delay_ms.unwrap_or(0)),
        ehlo,
        ehlo_tls,
        reply_delay: Duration::from_millis(raw.reply_delay_ms.unwrap_or(0)),
        rules,
    })
}

fn build_rule(raw: Spanned<RawRule>, path: &Path) -> Result<Rule, ScenarioError> {
    let (line, column) = (raw.referenced.line(), raw.referenced.column());
    let raw = raw.value;
    let on = command_regex(&raw.on).map_err(|m| invalid(path, line, column, "on", m))?;
    if raw.nth == Some(0) {
        return Err(invalid(
            path,
            line,
            column,
            "nth",
            "nth counts from 1".into(),
        ));
    }
    if raw.tls && raw.close {
        return Err(invalid(
            path,
            line,
            column,
            "tls",
            "a rule cannot both start TLS and close".into(),
        ));
    }
    if raw.linger_ms.is_some() && !raw.close {
        return Err(invalid(
            path,
            line,
            column,
            "linger_ms",
            "linger_ms needs close: true".into(),
        ));
    }
    if let Some(reply) = &raw.reply
        && let Some(bad) = reply.0.iter().find(|l| !reply_line_ok(l))
    {
        return Err(invalid(
            path,
            line,
            column,
            "reply",
            format!("{bad:?} does not start with a three-digit code"),
        ));
    }
    if raw.on.eq_ignore_ascii_case(END_OF_DATA) && raw.tls {
        return Err(invalid(
            path,
            line,
            column,
            "tls",
            "not after the data".into(),
        ));
    }
    Ok(Rule {
        on,
        nth: raw.nth,
        reply: raw.reply.map(|r| r.0),
        delay: Duration::from_millis(raw.delay_ms.unwrap_or(0)),
        inject: raw.inject.0,
        tls: raw.tls,
        close: raw.close,
        linger: Duration::from_millis(raw.linger_ms.unwrap_or(1000)),
    })
}

fn reply_line_ok(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() >= 3 && b[..3].iter().all(u8::is_ascii_digit) && !line.contains(['\r', '\n'])
}

fn build_judgement(
    raw: Spanned<RawJudgement<RawCheck>>,
    path: &Path,
) -> Result<Judgement, ScenarioError> {
    let (line, column) = (raw.referenced.line(), raw.referenced.column());
    let raw = raw.value;
    spec_id(&raw.spec, "SMTP-CLIENT-4").map_err(|m| invalid(path, line, column, "spec", m))?;
    let re =
        |field: &str, p: &str| command_regex(p).map_err(|m| invalid(path, line, column, field, m));
    let check = match raw.check {
        RawCheck::Never(p) => Check::Never(re("never", &p)?),
        RawCheck::Sends(p) => Check::Sends(re("sends", &p)?),
        RawCheck::MaxCount { pattern, max } => Check::MaxCount {
            pattern: re("pattern", &pattern)?,
            max,
        },
        RawCheck::Output(p) => Check::Output(Regex::new(&format!("(?i){p}")).map_err(|e| {
            invalid(
                path,
                line,
                column,
                "output",
                format!("bad pattern {p:?}: {e}"),
            )
        })?),
        RawCheck::NothingAfter { reply_to, allow } => Check::NothingAfter {
            reply_to: re("reply_to", &reply_to)?,
            allow: allow.map(|a| re("allow", &a)).transpose()?,
        },
        RawCheck::NextCommand { after, expect } => Check::NextCommand {
            after: re("after", &after)?,
            expect: re("expect", &expect)?,
        },
        RawCheck::WaitsForReply(p) => Check::WaitsForReply(re("waits_for_reply", &p)?),
        RawCheck::SilentBeforeGreeting => Check::SilentBeforeGreeting,
        RawCheck::Delivered(n) => Check::Delivered(n),
        RawCheck::DataLines { include, exclude } => Check::DataLines { include, exclude },
        RawCheck::DataCrlf => Check::DataCrlf,
        RawCheck::MaxConnections(n) => Check::MaxConnections(n),
        RawCheck::EndsWithQuit => Check::EndsWithQuit,
        RawCheck::Exit(e) => Check::Exit(e),
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

    #[test]
    fn the_bundled_client_cases_load() {
        let cases = bundled_cases().unwrap();
        assert!(cases.len() > 10, "{} client cases", cases.len());
        assert!(
            cases
                .iter()
                .all(|c| c.file.starts_with("scenarios/clients/"))
        );
    }

    const GOOD: &str = r#"
- id: rcpt-550
  title: a refused recipient
  server:
    ehlo: [8BITMIME]
    rules:
      - on: RCPT
        reply: 550 5.1.1 no such user
  judge:
    - spec: SMTP-CLIENT-8
      level: must
      check: {never: DATA}
    - spec: SMTP-CLIENT-7
      level: must
      check: {exit: failure}
    - spec: SMTP-CLIENT-1
      level: should
      check: ends_with_quit
"#;

    #[test]
    fn loads_a_case() {
        let cases = load_str(GOOD, Path::new("c.yaml")).unwrap();
        let case = &cases[0];
        assert_eq!(case.id, "rcpt-550");
        assert_eq!(
            case.server.rules[0].reply.as_deref(),
            Some(&["550 5.1.1 no such user".to_string()][..])
        );
        assert!(case.server.rules[0].on.is_match("rcpt TO:<x>"));
        assert!(!case.server.rules[0].on.is_match("XRCPT"));
        assert_eq!(case.judge.len(), 3);
        assert_eq!(case.judge[2].line, 16);
        assert!(matches!(case.judge[2].check, Check::EndsWithQuit));
        assert_eq!(
            case.spec(),
            ["SMTP-CLIENT-8", "SMTP-CLIENT-7", "SMTP-CLIENT-1"]
        );
        assert_eq!(case.to, [DEFAULT_TO]);
    }

    fn err(source: &str) -> String {
        load_str(source, Path::new("c/bad.yaml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = err(&GOOD.replace("reply: 550", "replly: 550"));
        assert!(e.starts_with("c/bad.yaml:8:"), "{e}");
        assert!(e.contains("field `replly`"), "{e}");
        let e = err(&GOOD.replace("{never: DATA}", "{nevr: DATA}"));
        assert!(e.starts_with("c/bad.yaml:12:"), "{e}");
        assert!(e.contains("`nevr`"), "{e}");
        let e = err(&GOOD.replace("spec: SMTP-CLIENT-8", "spec: client-8"));
        assert!(e.starts_with("c/bad.yaml:10:7: field `spec`"), "{e}");
        let e = err(&GOOD.replace("on: RCPT", "on: RCPT("));
        assert!(e.starts_with("c/bad.yaml:7:9: field `on`"), "{e}");
        let e = err(&GOOD.replace("reply: 550 5.1.1", "reply: x550 5.1.1"));
        assert!(e.contains("field `reply`"), "{e}");
        let e = err(&GOOD.replace("  server:", "  mode: starttls\n  server:"));
        assert!(e.contains("field `mode`"), "{e}");
        let e = err(&format!("{GOOD}{}", GOOD.replace("\n- id", "- id")));
        assert!(e.contains("duplicate case id `rcpt-550`"), "{e}");
    }
}

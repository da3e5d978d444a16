//! Reading scenario files: YAML into cases, with errors that name the file, line, column and
//! field, and the checks serde cannot do (unique ids, ID formats, known variables).
//!
//! A scenario file is a YAML list of cases. Files are grouped by spec section
//! (`scenarios/smtp/data.yaml`); a directory is read recursively, in path order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::Listener;
use super::error::ScenarioError;
use super::expect::{Keyword, OneOrMany};
use super::model::{BranchOn, Case, Level, LocatedStep, Protocol, Step};
use super::profile::Profile;
use super::transcript;
use super::vars::is_builtin;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    id: String,
    title: String,
    spec: Vec<String>,
    level: Level,
    #[serde(default)]
    protocol: Protocol,
    profile: Option<Profile>,
    listener: Option<Listener>,
    #[serde(default)]
    requires: OneOrMany<Keyword>,
    description: Option<String>,
    deadline_ms: Option<u64>,
    steps: Option<Vec<Spanned<Step>>>,
    transcript: Option<Spanned<String>>,
    fallback: Option<Vec<Spanned<Step>>>,
}

static CASE_ID: LazyLock<Regex> = LazyLock::new(|| {
    // A literal pattern: compiling it cannot fail.
    Regex::new(r"^[a-z0-9][a-z0-9._-]*$").expect("valid regex")
});

static SPEC_ID: LazyLock<Regex> = LazyLock::new(|| {
    // A literal pattern: compiling it cannot fail.
    Regex::new(r"^[A-Z]+-[A-Z0-9]+-\d+$").expect("valid regex")
});

/// Whether `id` has the form of a SPEC.md requirement ID (`SMTP-DATA-3`).
pub fn is_spec_id(id: &str) -> bool {
    SPEC_ID.is_match(id)
}

/// The section of a requirement ID: `SMTP-DATA` for `SMTP-DATA-3` (everything before the
/// last `-`).
pub fn section_of(id: &str) -> &str {
    id.rsplit_once('-').map_or(id, |(section, _)| section)
}

/// Loads the cases of one file.
pub fn load_file(path: &Path) -> Result<Vec<Case>, ScenarioError> {
    let source = read_source(path)?;
    load_str(&source, path)
}

/// Loads the cases in `source`, reporting errors against `path`.
pub fn load_str(source: &str, path: &Path) -> Result<Vec<Case>, ScenarioError> {
    cases_in::<RawCase, _>(source, path, build_case)
}

/// Loads every `*.yaml`/`*.yml` file under each of `paths` (files or directories), in path
/// order, and checks that case ids are unique across all of them.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<Case>, ScenarioError> {
    cases_under(paths, load_str)
}

/// Loads cases from files already in memory (path, contents), as [`load_paths`] does from
/// disk: the paths name the files in errors and reports.
pub fn load_sources<'a>(
    files: impl IntoIterator<Item = (&'a Path, &'a str)>,
) -> Result<Vec<Case>, ScenarioError> {
    cases_from(files, load_str)
}

/// A loaded case of any kind (server, client, relay), as far as loading it cares: its id and
/// where it is written, for the duplicate-id error.
pub trait Located {
    /// The case's id.
    fn id(&self) -> &str;
    /// The file the case is written in.
    fn file(&self) -> &Path;
    /// The line its list item starts on.
    fn line(&self) -> u64;
}

impl Located for Case {
    fn id(&self) -> &str {
        &self.id
    }
    fn file(&self) -> &Path {
        &self.file
    }
    fn line(&self) -> u64 {
        self.line
    }
}

/// A scenario file's text; the error names the file.
fn read_source(path: &Path) -> Result<String, ScenarioError> {
    std::fs::read_to_string(path).map_err(|error| ScenarioError::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// The cases of one file's text: a YAML list of `R` (typed by serde, errors naming the file,
/// line and field), each item built into a case by `build`, ids unique within the file.
pub fn cases_in<R, C>(
    source: &str,
    path: &Path,
    build: impl Fn(Spanned<R>, &Path) -> Result<C, ScenarioError>,
) -> Result<Vec<C>, ScenarioError>
where
    R: serde::de::DeserializeOwned,
    C: Located,
{
    let raw: Vec<Spanned<R>> =
        serde_saphyr::from_str(source).map_err(|e| syntax_error(&e, source, path))?;
    let cases = raw
        .into_iter()
        .map(|c| build(c, path))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique(&cases)?;
    Ok(cases)
}

/// The cases of every `*.yaml`/`*.yml` file under `paths` ([`yaml_files`]), each file read by
/// `load_str`, ids unique across them all.
pub fn cases_under<C: Located>(
    paths: &[PathBuf],
    load_str: impl Fn(&str, &Path) -> Result<Vec<C>, ScenarioError>,
) -> Result<Vec<C>, ScenarioError> {
    let mut cases = Vec::new();
    for file in yaml_files(paths)? {
        cases.extend(load_str(&read_source(&file)?, &file)?);
    }
    check_unique(&cases)?;
    Ok(cases)
}

/// The cases of files already in memory (path, contents), as [`cases_under`] reads them from
/// disk.
pub fn cases_from<'a, C: Located>(
    files: impl IntoIterator<Item = (&'a Path, &'a str)>,
    load_str: impl Fn(&str, &Path) -> Result<Vec<C>, ScenarioError>,
) -> Result<Vec<C>, ScenarioError> {
    let mut cases = Vec::new();
    for (path, source) in files {
        cases.extend(load_str(source, path)?);
    }
    check_unique(&cases)?;
    Ok(cases)
}

/// The scenario files `paths` name: each file as given, each directory's `*.yaml`/`*.yml`
/// files (recursively, in path order). A directory without any is an error. Shared with the
/// client scenarios of `serve-test`.
pub fn yaml_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let before = files.len();
            collect_yaml(path, &mut files)?;
            if files.len() == before {
                return Err(ScenarioError::Empty { path: path.clone() });
            }
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ScenarioError> {
    let io = |error| ScenarioError::Io {
        path: dir.to_path_buf(),
        error,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_yaml(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// Case ids must be unique across `cases`; the first repeat is the error.
pub fn check_unique<C: Located>(cases: &[C]) -> Result<(), ScenarioError> {
    check_unique_ids(cases.iter().map(|c| (c.id(), c.file(), c.line())))
}

/// Case ids, each with where the case is, must be unique; the first repeat is the error.
pub fn check_unique_ids<'a>(
    cases: impl IntoIterator<Item = (&'a str, &'a Path, u64)>,
) -> Result<(), ScenarioError> {
    let mut seen: BTreeMap<&str, (&Path, u64)> = BTreeMap::new();
    for (id, file, line) in cases {
        if let Some((first_file, first_line)) = seen.insert(id, (file, line)) {
            return Err(ScenarioError::Duplicate {
                id: id.to_string(),
                first: (first_file.to_path_buf(), first_line),
                second: (file.to_path_buf(), line),
            });
        }
    }
    Ok(())
}

/// True for a valid case id: `[a-z0-9][a-z0-9._-]*`.
fn is_case_id(id: &str) -> bool {
    CASE_ID.is_match(id)
}

/// A case's id has the allowed form and its title is not empty (server and client cases
/// alike); the error names the field.
pub fn check_id_and_title(id: &str, title: &str) -> Result<(), (&'static str, String)> {
    if !is_case_id(id) {
        return Err((
            "id",
            format!("case id {id:?} must match [a-z0-9][a-z0-9._-]*"),
        ));
    }
    if title.trim().is_empty() {
        return Err(("title", format!("case `{id}` has an empty title")));
    }
    Ok(())
}

/// A YAML or type error as a `ScenarioError` naming the file, line, column and field.
pub fn syntax_error(error: &serde_saphyr::Error, source: &str, path: &Path) -> ScenarioError {
    let (line, column) = error.location().map_or((0, 0), |l| (l.line(), l.column()));
    let rendered = error.to_string();
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or_default();
    // serde-saphyr renders "error: line L column C: MESSAGE" and then a snippet.
    let message = first
        .strip_prefix("error: ")
        .unwrap_or(first)
        .split_once(": ")
        .filter(|(head, _)| head.starts_with("line "))
        .map_or(first, |(_, m)| m)
        .to_string();
    let snippet = lines
        .map(|l| l.replace("<input>", &path.display().to_string()))
        .collect::<Vec<_>>()
        .join("\n");
    ScenarioError::Syntax {
        path: path.to_path_buf(),
        line,
        column,
        field: field_name(&message, source, line, column),
        message,
        snippet,
    }
}

/// The field an error is about: named in the message (unknown or missing field, unknown step
/// kind), else the mapping key written before the error's column on its line.
fn field_name(message: &str, source: &str, line: u64, column: u64) -> Option<String> {
    for prefix in ["unknown field `", "missing field `"] {
        if let Some(rest) = message.split(prefix).nth(1) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    // An unknown variant written as a value (`level: mandatory`) is about the key before it;
    // one written as a key (an unknown step kind) names itself.
    if let Some(rest) = message.split("unknown variant `").nth(1) {
        return key_before(source, line, column)
            .or_else(|| rest.split('`').next().map(str::to_string));
    }
    key_before(source, line, column)
}

/// The mapping key written before `column` on `line`, if any.
fn key_before(source: &str, line: u64, column: u64) -> Option<String> {
    // YAML 1.2 §5.4: line breaks are CR LF, CR or LF, and the parser numbers lines by them.
    let text = source
        .replace("\r\n", "\n")
        .split(['\r', '\n'])
        .nth(line.checked_sub(1)? as usize)?
        .to_string();
    let before: String = text
        .chars()
        .take(column.saturating_sub(1) as usize)
        .collect();
    static KEY: LazyLock<Regex> = LazyLock::new(|| {
        // A literal pattern: compiling it cannot fail.
        Regex::new(r"([A-Za-z_][A-Za-z0-9_]*)\s*:").expect("valid regex")
    });
    KEY.captures_iter(&before).last().map(|c| c[1].to_string())
}

fn build_case(raw: Spanned<RawCase>, path: &Path) -> Result<Case, ScenarioError> {
    let (line, column) = (raw.referenced.line(), raw.referenced.column());
    let raw = raw.value;
    let invalid =
        |field: &str, message: String| ScenarioError::invalid(path, line, column, field, message);
    check_id_and_title(&raw.id, &raw.title).map_err(|(field, message)| invalid(field, message))?;
    if raw.spec.is_empty() {
        return Err(invalid(
            "spec",
            format!("case `{}` cites no SPEC.md requirement", raw.id),
        ));
    }
    if let Some(bad) = raw.spec.iter().find(|s| !is_spec_id(s)) {
        return Err(invalid(
            "spec",
            format!("{bad:?} is not a requirement ID like SMTP-DATA-3"),
        ));
    }
    let steps = match (raw.steps, raw.transcript) {
        (Some(steps), None) => located(steps),
        (None, Some(t)) => transcript::parse(&t.value, t.referenced.line(), t.referenced.column())
            .map_err(|e| ScenarioError::invalid(path, e.line, e.column, "transcript", e.message))?,
        _ => {
            return Err(invalid(
                "steps",
                format!(
                    "case `{}` needs exactly one of `steps` and `transcript`",
                    raw.id
                ),
            ));
        }
    };
    if steps.is_empty() {
        return Err(invalid("steps", format!("case `{}` has no steps", raw.id)));
    }
    let fallback = raw.fallback.map(located);
    if fallback.is_some() && raw.requires.0.is_empty() {
        return Err(invalid(
            "fallback",
            format!("case `{}` has a fallback but requires nothing", raw.id),
        ));
    }
    let listener = check_protocol(&raw.id, raw.protocol, raw.profile, raw.listener)
        .map_err(|(field, message)| invalid(field, message))?;
    super::names::check_requires(&raw.requires.0, raw.protocol, path, line, column)?;
    check_steps(&steps, path, "steps", raw.protocol)?;
    if let Some(fallback) = &fallback {
        check_steps(fallback, path, "fallback", raw.protocol)?;
    }
    Ok(Case {
        id: raw.id,
        title: raw.title,
        spec: raw.spec,
        level: raw.level,
        protocol: raw.protocol,
        profile: raw.profile,
        listener,
        requires: raw.requires.0,
        description: raw.description,
        deadline: raw.deadline_ms.map(Duration::from_millis),
        steps,
        fallback,
        file: path.to_path_buf(),
        line,
    })
}

fn located(steps: Vec<Spanned<Step>>) -> Vec<LocatedStep> {
    steps.into_iter().map(LocatedStep::from).collect()
}

/// An MMTP case names its profile and runs on an MMTP listener (`mmtp` by default, or a
/// special MMTP one); other cases run on SMTP listeners (special ones included) and have no
/// profile. Returns the listener.
fn check_protocol(
    id: &str,
    protocol: Protocol,
    profile: Option<Profile>,
    listener: Option<Listener>,
) -> Result<Listener, (&'static str, String)> {
    match (protocol, listener) {
        (Protocol::Mmtp, _) if profile.is_none() => Err((
            "profile",
            format!("MMTP case `{id}` needs `profile: compat` or `profile: strict`"),
        )),
        (Protocol::Mmtp, None) => Ok(Listener::Mmtp),
        (Protocol::Mmtp, Some(l)) if l.is_mmtp() => Ok(l),
        (Protocol::Mmtp, Some(l)) => Err((
            "listener",
            format!(
                "MMTP case `{id}` cannot use the {l} listener (use mmtp, mmtps, mmtp-limited or mmtp-short-idle)"
            ),
        )),
        (Protocol::Http, _) => super::http::case_listener(id, profile, listener),
        (_, _) if profile.is_some() => Err((
            "profile",
            format!("`profile` is for MMTP cases; `{id}` is {protocol}"),
        )),
        (_, Some(l)) if l.is_mmtp() || l == Listener::Http => Err((
            "listener",
            format!("{protocol} case `{id}` cannot use the {l} listener"),
        )),
        (_, l) => Ok(l.unwrap_or_default()),
    }
}

/// Whether a step makes sense in a case of `protocol`: SMTP replies and TLS upgrades are not
/// MMTP, JSON values are not SMTP.
fn step_fits(step: &Step, protocol: Protocol) -> bool {
    let smtp_only = matches!(
        step,
        Step::Send(_)
            | Step::Pipeline(_)
            | Step::Bdat(_)
            | Step::Expect(_)
            | Step::Ehlo
            | Step::Starttls
            | Step::EncryptStart
            | Step::TlsHandshake
            | Step::Mailbox(_)
            | Step::ExpectOneOf(_)
    );
    let json_only = matches!(
        step,
        Step::SendJson(_) | Step::WriteJson(_) | Step::ExpectJson(_)
    );
    let http_only = matches!(
        step,
        Step::Http(_) | Step::ExpectHttp(_) | Step::PollHttp(_)
    );
    match protocol {
        Protocol::Mmtp => !smtp_only && !http_only,
        Protocol::Smtp | Protocol::Vmtp => !json_only && !http_only,
        Protocol::Http => !json_only,
    }
}

/// Variables must be builtins or captured by an earlier step; connection numbers are 1..=9;
/// steps fit the protocol.
fn check_steps(
    steps: &[LocatedStep],
    path: &Path,
    list: &str,
    protocol: Protocol,
) -> Result<(), ScenarioError> {
    check_step_list(steps, path, list, protocol, BTreeSet::new())
}

/// [`check_steps`] for one list, given what earlier steps captured. A branch's steps see the
/// captures made before the branch and by its own expect; they do not leak out of it.
fn check_step_list<'a>(
    steps: &'a [LocatedStep],
    path: &Path,
    list: &str,
    protocol: Protocol,
    mut captured: BTreeSet<&'a str>,
) -> Result<(), ScenarioError> {
    for (i, located) in steps.iter().enumerate() {
        let field = format!("{list}[{i}]");
        let invalid = |message: String| {
            ScenarioError::invalid(path, located.line, located.column, &field, message)
        };
        for template in located.step.templates() {
            if let Some(name) = template
                .variables()
                .find(|v| !is_builtin(v) && !captured.contains(v))
            {
                return Err(invalid(format!(
                    "unknown variable `{{{{{name}}}}}` (builtins: {}; or capture it in an earlier expect)",
                    super::vars::BUILTINS.join(", ")
                )));
            }
        }
        if let Step::Connection(n) = located.step
            && !(1..=9).contains(&n)
        {
            return Err(invalid(format!("connection {n}: use 1 to 9")));
        }
        if !step_fits(&located.step, protocol) {
            let kind = located
                .step
                .describe(&super::vars::Vars::default())
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            return Err(invalid(format!(
                "a `{kind}` step does not fit a {protocol} case"
            )));
        }
        if let Step::ExpectOneOf(branches) = &located.step {
            for (b, branch) in branches.0.iter().enumerate() {
                let mut seen = captured.clone();
                if let BranchOn::Reply(expect) = &branch.on {
                    seen.extend(expect.capture.keys().map(String::as_str));
                }
                let list = format!("{field}.expect_one_of[{b}].then");
                check_step_list(&branch.then, path, &list, protocol, seen)?;
            }
        }
        captured.extend(located.step.captures());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
- id: smtp-noop
  title: NOOP gets 250
  spec: [SMTP-NOOP-1]
  level: must
  steps:
    - expect: 220
    - ehlo
    - send: NOOP
    - expect: {code: 250, capture: {word: '(\w+)'}}
    - send: "NOOP {{word}} {{marker}}"
    - expect: 2xx
- id: smtp-terse
  title: terse
  spec: [SMTP-QUIT-1]
  level: should
  transcript: |
    S: 220
    C: QUIT
    S: 221
    S: <close>
"#;

    #[test]
    fn loads_cases() {
        let cases = load_str(GOOD, Path::new("x.yaml")).unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].steps.len(), 6);
        assert_eq!(cases[0].line, 2);
        assert_eq!(cases[0].steps[2].line, 9);
        assert_eq!(cases[1].steps.len(), 4);
        assert_eq!(cases[1].steps[1].line, 19);
    }

    fn err(source: &str) -> String {
        load_str(source, Path::new("s/bad.yaml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_file_line_column_and_field() {
        let e = err(
            "- id: a\n  title: t\n  spec: [SMTP-X-1]\n  level: must\n  steps:\n    - expect: {code: 250, txt: x}\n",
        );
        assert!(
            e.starts_with("s/bad.yaml:6:27: field `txt`: unknown field `txt`"),
            "{e}"
        );
        let e = err(
            "- id: a\n  title: t\n  spec: [SMTP-X-1]\n  level: must\n  steps:\n    - expect:\n        code: 2y0\n",
        );
        assert!(e.starts_with("s/bad.yaml:7:15: field `code`:"), "{e}");
        // A lone CR is a line break to YAML, and so to the field lookup.
        let e = err(
            "- id: a\r  title: t\r  spec: [SMTP-X-1]\r  level: must\r  steps:\r    - expect:\r        code: 2y0\r",
        );
        assert!(e.starts_with("s/bad.yaml:7:15: field `code`:"), "{e}");
        let e = err(
            "- id: a\n  title: t\n  spec: [SMTP-X-1]\n  level: must\n  steps:\n    - send: \"{{nope}}\"\n",
        );
        assert!(
            e.starts_with("s/bad.yaml:6:7: field `steps[0]`: unknown variable `{{nope}}`"),
            "{e}"
        );
        let e = err("- id: a\n  title: t\n  spec: [smtp-x-1]\n  level: must\n  steps: [ehlo]\n");
        assert!(e.contains("field `spec`"), "{e}");
        let e = err(
            "- id: a\n  title: t\n  spec: [SMTP-X-1]\n  level: must\n  transcript: |\n    S: 220\n    Q: x\n",
        );
        assert!(e.starts_with("s/bad.yaml:7:5: field `transcript`:"), "{e}");
    }

    #[test]
    fn branches_are_checked_like_steps() {
        let head = "- id: a\n  title: t\n  spec: [SMTP-X-1]\n  level: must\n  steps:\n    - expect_one_of:\n";
        // A capture of the branch's expect is known in its steps, not after the branch.
        let good = format!(
            "{head}        - expect: {{code: 250, capture: {{w: '(.*)'}}}}\n          then:\n            - send: \"NOOP {{{{w}}}}\"\n        - silence: 100\n"
        );
        let cases = load_str(&good, Path::new("b.yaml")).unwrap();
        assert!(matches!(cases[0].steps[0].step, Step::ExpectOneOf(_)));
        let e = err(&format!("{good}    - send: \"{{{{w}}}}\"\n"));
        assert!(
            e.contains("field `steps[1]`: unknown variable `{{w}}`"),
            "{e}"
        );
        // A step inside a branch is named by its path and its own line.
        let e = err(&format!(
            "{head}        - expect: 250\n          then:\n            - send: \"{{{{nope}}}}\"\n        - close: true\n"
        ));
        assert!(
            e.starts_with(
                "s/bad.yaml:9:15: field `steps[0].expect_one_of[0].then[0]`: unknown variable"
            ),
            "{e}"
        );
        let e = err(&format!("{head}        - expect: 250\n"));
        assert!(e.contains("at least two branches"), "{e}");
        let e = err(&format!(
            "{head}        - expect: 250\n          silence: 10\n        - close: true\n"
        ));
        assert!(e.contains("exactly one of expect, silence"), "{e}");
        let e = err(&format!(
            "{head}        - silence: 10\n        - silence: 20\n"
        ));
        assert!(e.contains("at most one silence branch"), "{e}");
    }

    #[test]
    fn mmtp_cases_are_checked() {
        let head = "- id: a\n  title: t\n  spec: [MMTP-X-1]\n  level: must\n  protocol: mmtp\n";
        let good = format!(
            "{head}  profile: compat\n  steps:\n    - expect_json: {{status: OK}}\n    - send_json: {{action: SEND, data: {{packet: {{meta: {{timestamp: {{$now: {{as: ts}}}}}}}}}}}}\n    - write: {{text: \"{{{{ts}}}}\"}}\n"
        );
        let cases = load_str(&good, Path::new("m.yaml")).unwrap();
        assert_eq!(cases[0].listener, Listener::Mmtp);
        assert_eq!(cases[0].profile, Some(Profile::Compat));
        let e = err(&format!("{head}  steps: [{{expect_json: {{}}}}]\n"));
        assert!(e.contains("field `profile`: MMTP case `a` needs"), "{e}");
        let e = err(&format!("{head}  profile: strict\n  steps: [ehlo]\n"));
        assert!(
            e.contains("field `steps[0]`: a `EHLO` step does not fit a mmtp case"),
            "{e}"
        );
        let e = err(&format!(
            "{head}  profile: strict\n  listener: smtps\n  steps: [{{expect_json: {{}}}}]\n"
        ));
        assert!(e.contains("cannot use the smtps listener"), "{e}");
        let e = err(&format!(
            "{head}  profile: strict\n  steps:\n    - send_json: {{a: {{$hashcash: {{broken: tired}}}}}}\n"
        ));
        assert!(e.starts_with("s/bad.yaml:8:"), "{e}");
        assert!(e.contains("$hashcash broken: \"tired\""), "{e}");
        let e = err(&format!(
            "{head}  profile: strict\n  steps:\n    - expect_json: {{a: {{$regex: \"(\"}}}}\n"
        ));
        assert!(
            e.starts_with("s/bad.yaml:8:") && e.contains("regular expression"),
            "{e}"
        );
        let e = err(
            "- id: a\n  title: t\n  spec: [SMTP-X-1]\n  level: must\n  profile: compat\n  steps: [ehlo]\n",
        );
        assert!(e.contains("`profile` is for MMTP cases"), "{e}");
    }

    #[test]
    fn duplicates_are_errors() {
        let one = "- id: a\n  title: t\n  spec: [SMTP-X-1]\n  level: must\n  steps: [ehlo]\n";
        let e = err(&format!("{one}{one}"));
        assert!(e.contains("duplicate case id `a`"), "{e}");
    }
}

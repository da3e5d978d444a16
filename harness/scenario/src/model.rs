//! The typed scenario model: a case, its level and protocol, and the steps it runs.
//!
//! The YAML form is documented with examples in `scenarios/README.md`; every type here rejects
//! unknown fields, and values are checked as they are read so that errors carry a line and
//! column.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use super::expect::{ExpectReply, Keyword};
use super::http::{ExpectHttp, HttpRequest, PollHttp};
use super::json_pattern::JsonPattern;
use super::json_template::JsonTemplate;
use super::payload::{Payload, PayloadParts, decode_hex};
use super::profile::Profile;
use super::vars::{Template, UnknownVariable, Vars};

/// How bad it is when the target does otherwise (RFC 2119, as SPEC.md uses it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// `must`: a failed step makes the case FAIL.
    Must,
    /// `should`: a failed step makes the case WARN (a gate failure only with `--strict`).
    Should,
    /// `may`: a failed step makes the case UNSUPPORTED.
    May,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Must => "MUST",
            Self::Should => "SHOULD",
            Self::May => "MAY",
        })
    }
}

/// The protocol a case speaks. VMTP is spoken on an SMTP connection; MMTP (JSON values) on
/// the target's MMTP listener.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// `smtp` (the default): SMTP steps on an SMTP listener.
    #[default]
    Smtp,
    /// `vmtp`: the VMTP extensions, spoken on an SMTP connection with the same steps.
    Vmtp,
    /// `mmtp`: JSON steps on an MMTP listener; the case needs a `profile`.
    Mmtp,
    /// The HTTP gateway (its listener; SMTP steps in such a case go to the SMTP listener).
    Http,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Smtp => "smtp",
            Self::Vmtp => "vmtp",
            Self::Mmtp => "mmtp",
            Self::Http => "http",
        })
    }
}

/// One loaded case.
#[derive(Clone, Debug)]
pub struct Case {
    /// `id:` unique across all files, `[a-z0-9][a-z0-9._-]*`; the test name in `cargo test`
    /// and the key in baselines.
    pub id: String,
    /// `title:` one non-empty line, shown in every report.
    pub title: String,
    /// SPEC.md requirement IDs the case checks.
    pub spec: Vec<String>,
    /// `level:` what a failed step means for the verdict; at most the highest level among the
    /// cited requirements.
    pub level: Level,
    /// `protocol:` which steps the case may use and where it runs (default `smtp`).
    pub protocol: Protocol,
    /// For MMTP cases: compat (the original's behaviour) or strict (DESIGN's decisions).
    pub profile: Option<Profile>,
    /// The listener the case's connections go to (submission for AUTH, smtps for implicit TLS).
    pub listener: super::Listener,
    /// EHLO keywords the target must advertise for `steps` to apply.
    pub requires: Vec<Keyword>,
    /// `description:` free text for readers of reports: why the case checks what it does.
    pub description: Option<String>,
    /// `deadline_ms:` overrides the run's per-case deadline (30 s by default); the case FAILs
    /// when it is not finished by then.
    pub deadline: Option<Duration>,
    /// The steps to run: `steps:` as written, or those the terse `transcript:` reads into.
    /// Never empty.
    pub steps: Vec<LocatedStep>,
    /// What a target without the required extensions must do instead.
    pub fallback: Option<Vec<LocatedStep>>,
    /// The scenario file the case was loaded from (as the loader was given it).
    pub file: PathBuf,
    /// The 1-based line where the case starts in `file`.
    pub line: u64,
}

impl Case {
    /// SPEC.md sections the case cites (`SMTP-DATA` for `SMTP-DATA-3`), in citation order.
    pub fn sections(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for id in &self.spec {
            let section = super::section_of(id).to_string();
            if !out.contains(&section) {
                out.push(section);
            }
        }
        out
    }

    /// Whether any step (main or fallback, or inside a branch) checks the mailbox.
    pub fn checks_mailbox(&self) -> bool {
        fn any_mailbox<'a>(mut steps: impl Iterator<Item = &'a LocatedStep>) -> bool {
            steps.any(|s| matches!(s.step, Step::Mailbox(_)) || any_mailbox(s.step.nested()))
        }
        any_mailbox(self.steps.iter().chain(self.fallback.iter().flatten()))
    }
}

/// A step and where it was written.
#[derive(Clone, Debug)]
pub struct LocatedStep {
    /// The step itself.
    pub step: Step,
    /// The 1-based line of the step in the scenario file (reports and load errors name it).
    pub line: u64,
    /// The 1-based column of the step (for a transcript line, of the `transcript:` value).
    pub column: u64,
}

/// One thing the harness does or checks.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Send one line; CRLF is appended.
    Send(Template),
    /// Send several lines (each gets CRLF) in a single write.
    Pipeline(Vec<Template>),
    /// Write exact bytes, optionally in chunks.
    Write(WriteStep),
    /// `BDAT <size> [LAST]` and the chunk, in one write; the size is computed.
    Bdat(BdatStep),
    /// Read one reply and check it.
    Expect(ExpectReply),
    /// The server closes the connection, sending nothing more first.
    ExpectClose,
    /// Nothing arrives for this many milliseconds.
    ExpectSilence(u64),
    /// `EHLO {{client}}`, expecting 250.
    Ehlo,
    /// `STARTTLS`, expecting 220, then the TLS handshake.
    Starttls,
    /// `ENCRYPT START` (VMTP), expecting 220, then the TLS handshake.
    EncryptStart,
    /// The TLS handshake alone (after the case sent the command and read the 220 itself).
    TlsHandshake,
    /// Switch to numbered connection N (1..=9), opening it on first use.
    Connection(u8),
    /// Close the current connection from the client side.
    Disconnect,
    /// Wait this many milliseconds.
    Sleep(u64),
    /// Check what the target delivered.
    Mailbox(MailboxCheck),
    /// Write one JSON value, compact, followed by `\n` (MMTP).
    SendJson(JsonTemplate),
    /// Write JSON values in one write (or in chunks), each followed by `end`.
    WriteJson(WriteJsonStep),
    /// Read one JSON value and match it against a partial pattern, capturing variables.
    ExpectJson(JsonPattern),
    /// Send one HTTP request to the target's HTTP listener.
    Http(HttpRequest),
    /// Check the last HTTP response: status, JSON body, headers.
    ExpectHttp(ExpectHttp),
    /// GET a path until its JSON answer matches (a delivery settling), or a deadline.
    PollHttp(PollHttp),
    /// The target may answer in more than one correct way: the first branch whose reply
    /// (or silence, or close) it matches runs its own steps.
    ExpectOneOf(Branches),
}

impl Step {
    /// The templates the step expands (for checking variables at load time).
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            Step::Send(t) => vec![t],
            Step::Pipeline(lines) => lines.iter().collect(),
            Step::Write(WriteStep { data, octets, .. }) => {
                let mut templates: Vec<&Template> = octets.iter().collect();
                if let Payload::Text(t) = data {
                    templates.push(t);
                }
                templates
            }
            Step::Bdat(BdatStep { data, .. }) => match data {
                Payload::Text(t) => vec![t],
                Payload::Bytes(_) => vec![],
            },
            Step::Mailbox(m) => m.templates(),
            Step::SendJson(t) => t.templates(),
            Step::WriteJson(w) => w.values.iter().flat_map(JsonTemplate::templates).collect(),
            Step::ExpectJson(p) => p.templates(),
            Step::Http(r) => r.templates(),
            Step::ExpectHttp(e) => e.templates(),
            Step::PollHttp(p) => p.templates(),
            _ => vec![],
        }
    }

    /// Variables the step sets for later steps.
    pub fn captures(&self) -> Vec<&str> {
        match self {
            Step::Expect(e) => e.capture.keys().map(String::as_str).collect(),
            Step::SendJson(t) => t.stores(),
            Step::WriteJson(w) => w.values.iter().flat_map(JsonTemplate::stores).collect(),
            Step::ExpectJson(p) => p.captures(),
            Step::Http(r) => r.captures(),
            Step::ExpectHttp(e) => e.captures(),
            Step::PollHttp(p) => p.until.captures(),
            _ => vec![],
        }
    }

    /// A one-line description for reports, with variables expanded where possible.
    pub fn describe(&self, vars: &Vars) -> String {
        let expand = |t: &Template| t.expand(vars).unwrap_or_else(|_| t.to_string());
        match self {
            Step::Send(t) => format!("send {:?}", expand(t)),
            Step::Pipeline(lines) => {
                let lines: Vec<String> = lines.iter().map(expand).collect();
                format!("pipeline {lines:?}")
            }
            Step::Write(w) => {
                let len = w.bytes(vars).map_or(0, |d| d.len());
                match w.chunk {
                    Some(n) => format!("write {len} bytes in chunks of {n}"),
                    None => format!("write {len} bytes"),
                }
            }
            Step::Bdat(b) => {
                let len = b.data.expand(vars).map_or(0, |d| d.len());
                format!("BDAT {len}{}", if b.last { " LAST" } else { "" })
            }
            Step::Expect(e) => format!("expect {e}"),
            Step::ExpectClose => "expect the connection to close".into(),
            Step::ExpectSilence(ms) => format!("expect silence for {ms} ms"),
            Step::Ehlo => format!("EHLO {}", vars.get("client").unwrap_or("")),
            Step::Starttls => "STARTTLS and TLS handshake".into(),
            Step::EncryptStart => "ENCRYPT START and TLS handshake".into(),
            Step::TlsHandshake => "TLS handshake".into(),
            Step::Connection(n) => format!("switch to connection {n}"),
            Step::Disconnect => "disconnect".into(),
            Step::Sleep(ms) => format!("sleep {ms} ms"),
            Step::Mailbox(_) => "check the mailbox".into(),
            Step::SendJson(t) => format!("send JSON {}", shorten(&t.to_string())),
            Step::WriteJson(w) => {
                let values: Vec<String> = w.values.iter().map(ToString::to_string).collect();
                let chunks = w
                    .chunk
                    .map_or(String::new(), |n| format!(" in chunks of {n}"));
                format!("write JSON {}{chunks}", shorten(&values.join(" ")))
            }
            Step::ExpectJson(p) => format!("expect JSON {}", shorten(&p.to_string())),
            Step::Http(r) => format!("http {} {}", r.method, expand(&r.path)),
            Step::ExpectHttp(e) => format!("expect_http {}", shorten(&e.to_string())),
            Step::PollHttp(p) => format!(
                "poll_http GET {} until {}",
                expand(&p.path),
                shorten(&p.until.to_string())
            ),
            Step::ExpectOneOf(b) => format!("expect one of {b}"),
        }
    }

    /// The steps of this step's branches (for checks that look inside them).
    pub fn nested(&self) -> impl Iterator<Item = &LocatedStep> {
        let branches: &[Branch] = match self {
            Step::ExpectOneOf(b) => &b.0,
            _ => &[],
        };
        branches.iter().flat_map(|b| &b.then)
    }
}

/// `expect_one_of:` two or more ways the target may correctly answer, tried in order.
#[derive(Clone, Debug)]
pub struct Branches(pub Vec<Branch>);

impl Branches {
    /// How long to wait for silence, if one branch is silence.
    pub fn silence_ms(&self) -> Option<u64> {
        self.0.iter().find_map(|b| match b.on {
            BranchOn::Silence(ms) => Some(ms),
            _ => None,
        })
    }
}

impl fmt::Display for Branches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, branch) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{}", branch.on)?;
        }
        Ok(())
    }
}

/// One way to answer, and what follows it.
#[derive(Clone, Debug)]
pub struct Branch {
    /// What the target must do for this branch to be taken: `expect`, `silence` or
    /// `close: true`.
    pub on: BranchOn,
    /// Run when this branch is taken.
    pub then: Vec<LocatedStep>,
    /// Taken, the case cannot be judged: SKIP with this reason (after `then` ran).
    pub skip: Option<String>,
}

/// What selects a branch.
#[derive(Clone, Debug)]
pub enum BranchOn {
    /// A reply matching this.
    Reply(ExpectReply),
    /// Nothing for this many milliseconds.
    Silence(u64),
    /// The target closes the connection, sending nothing first.
    Close,
}

impl fmt::Display for BranchOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reply(e) => write!(f, "{e}"),
            Self::Silence(ms) => write!(f, "silence for {ms} ms"),
            Self::Close => f.write_str("a close"),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBranch {
    expect: Option<ExpectReply>,
    silence: Option<u64>,
    #[serde(default)]
    close: bool,
    #[serde(default)]
    then: Vec<serde_saphyr::Spanned<Step>>,
    skip: Option<String>,
}

impl<'de> Deserialize<'de> for Branches {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Vec::<RawBranch>::deserialize(deserializer)?;
        if raw.len() < 2 {
            return Err(de::Error::custom(
                "expect_one_of: give at least two branches (one is a plain expect)",
            ));
        }
        let mut branches = Vec::with_capacity(raw.len());
        for b in raw {
            let on = match (b.expect, b.silence, b.close) {
                (Some(e), None, false) => BranchOn::Reply(e),
                (None, Some(ms), false) => BranchOn::Silence(ms),
                (None, None, true) => BranchOn::Close,
                _ => {
                    return Err(de::Error::custom(
                        "expect_one_of: each branch has exactly one of expect, silence and close: true",
                    ));
                }
            };
            if b.skip.as_deref().is_some_and(|s| s.trim().is_empty()) {
                return Err(de::Error::custom("expect_one_of: an empty skip reason"));
            }
            branches.push(Branch {
                on,
                then: b.then.into_iter().map(LocatedStep::from).collect(),
                skip: b.skip,
            });
        }
        let count = |pick: fn(&BranchOn) -> bool| branches.iter().filter(|b| pick(&b.on)).count();
        if count(|o| matches!(o, BranchOn::Silence(_))) > 1
            || count(|o| matches!(o, BranchOn::Close)) > 1
        {
            return Err(de::Error::custom(
                "expect_one_of: at most one silence branch and one close branch",
            ));
        }
        Ok(Self(branches))
    }
}

impl From<serde_saphyr::Spanned<Step>> for LocatedStep {
    fn from(s: serde_saphyr::Spanned<Step>) -> Self {
        Self {
            line: s.referenced.line(),
            column: s.referenced.column(),
            step: s.value,
        }
    }
}

/// A description cut to a readable length.
fn shorten(text: &str) -> String {
    if text.chars().count() <= 200 {
        return text.to_string();
    }
    let head: String = text.chars().take(190).collect();
    format!("{head}…")
}

/// `write_json:` several values in one write, or one value in chunks.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteJsonStep {
    /// `value:` or `values:` the JSON values written, in order (never empty).
    pub values: Vec<JsonTemplate>,
    /// Written after each value (default `"\n"`; `""` for back-to-back values).
    pub end: String,
    /// `chunk:` write at most this many bytes at a time (1: byte by byte); `None`: everything
    /// in one write.
    pub chunk: Option<usize>,
    /// `pause_ms:` the pause between chunks, in milliseconds (default 0).
    pub pause_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWriteJson {
    value: Option<JsonTemplate>,
    values: Option<Vec<JsonTemplate>>,
    end: Option<String>,
    chunk: Option<usize>,
    pause_ms: Option<u64>,
}

impl<'de> Deserialize<'de> for WriteJsonStep {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawWriteJson::deserialize(deserializer)?;
        let values = match (raw.value, raw.values) {
            (Some(v), None) => vec![v],
            (None, Some(vs)) if !vs.is_empty() => vs,
            _ => {
                return Err(de::Error::custom(
                    "write_json: give `value` or a non-empty list of `values`",
                ));
            }
        };
        if raw.chunk == Some(0) {
            return Err(de::Error::custom("write_json: chunk must be at least 1"));
        }
        Ok(Self {
            values,
            end: raw.end.unwrap_or_else(|| "\n".into()),
            chunk: raw.chunk,
            pause_ms: raw.pause_ms.unwrap_or(0),
        })
    }
}

/// `write:` raw bytes: exactly one of `text`, `lines` (each gets CRLF), `hex`, `base64`.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteStep {
    /// The payload: `text`/`lines` (a template) or `hex`/`base64` (bytes).
    pub data: Payload,
    /// The payload is sent this many times (for long lines and large messages).
    pub repeat: usize,
    /// Instead of `repeat`: exactly this many octets, the payload repeated and the last copy
    /// cut short; a template, so it can be computed from what the target advertises
    /// (`{{size_over}}`: one octet more than its SIZE maximum).
    pub octets: Option<Template>,
    /// Write at most this many bytes at a time (1: byte by byte).
    pub chunk: Option<usize>,
    /// `pause_ms:` the pause between chunks, in milliseconds (default 0).
    pub pause_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWrite {
    text: Option<Template>,
    lines: Option<Vec<Template>>,
    hex: Option<String>,
    base64: Option<String>,
    repeat: Option<usize>,
    octets: Option<Template>,
    chunk: Option<usize>,
    pause_ms: Option<u64>,
}

impl WriteStep {
    /// The octets to write, with variables expanded.
    pub fn bytes(&self, vars: &Vars) -> Result<Vec<u8>, WriteError> {
        let data = self.data.expand(vars).map_err(WriteError::Variable)?;
        let Some(octets) = &self.octets else {
            return Ok(data.repeat(self.repeat));
        };
        let text = octets.expand(vars).map_err(WriteError::Variable)?;
        let n: usize = text
            .trim()
            .parse()
            .map_err(|_| WriteError::Octets(format!("write: octets {text:?} is not a number")))?;
        if data.is_empty() {
            return Err(WriteError::Octets(
                "write: octets needs a non-empty payload".into(),
            ));
        }
        Ok(data.iter().copied().cycle().take(n).collect())
    }
}

/// Why a `write` step's octets could not be made.
#[derive(Debug)]
pub enum WriteError {
    /// A variable has no value (AUTH credentials not given, a SIZE not advertised).
    Variable(UnknownVariable),
    /// `octets` is not a number, or there is nothing to repeat.
    Octets(String),
}

impl<'de> Deserialize<'de> for WriteStep {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawWrite::deserialize(deserializer)?;
        let parts = PayloadParts {
            text: raw.text,
            lines: raw.lines,
            hex: raw.hex,
            base64: raw.base64,
        };
        let data = Payload::from_parts(parts, "write")
            .map_err(de::Error::custom)?
            .ok_or_else(|| de::Error::custom("write: give one of text, lines, hex or base64"))?;
        if raw.chunk == Some(0) {
            return Err(de::Error::custom("write: chunk must be at least 1"));
        }
        if raw.repeat.is_some() && raw.octets.is_some() {
            return Err(de::Error::custom(
                "write: give `repeat` or `octets`, not both",
            ));
        }
        Ok(WriteStep {
            data,
            repeat: raw.repeat.unwrap_or(1),
            octets: raw.octets,
            chunk: raw.chunk,
            pause_ms: raw.pause_ms.unwrap_or(0),
        })
    }
}

/// `bdat:` a chunk (`text`, `lines`, `hex` or `base64`) and whether it is the `last`.
#[derive(Clone, Debug, PartialEq)]
pub struct BdatStep {
    /// The chunk's octets; none given is an empty chunk (`BDAT 0`).
    pub data: Payload,
    /// `last: true` sends `BDAT <n> LAST` (default false).
    pub last: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBdat {
    text: Option<Template>,
    lines: Option<Vec<Template>>,
    hex: Option<String>,
    base64: Option<String>,
    #[serde(default)]
    last: bool,
}

impl<'de> Deserialize<'de> for BdatStep {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawBdat::deserialize(deserializer)?;
        let parts = PayloadParts {
            text: raw.text,
            lines: raw.lines,
            hex: raw.hex,
            base64: raw.base64,
        };
        let data = Payload::from_parts(parts, "bdat")
            .map_err(de::Error::custom)?
            .unwrap_or(Payload::Bytes(Vec::new()));
        Ok(BdatStep {
            data,
            last: raw.last,
        })
    }
}

/// `mailbox:` what the target delivered for this case.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxCheck {
    /// Select the messages with this recipient (default: any of the case's `{{rcptN}}`, or
    /// any message containing `{{marker}}`).
    pub rcpt: Option<Template>,
    /// Select the messages whose content contains this text.
    pub marker: Option<Template>,
    /// How many messages must be selected (default: the number of `messages`, at least 1).
    pub count: Option<usize>,
    /// Checks of the selected messages, in delivery order.
    #[serde(default)]
    pub messages: Vec<MessageCheck>,
    /// How long to wait for the messages to show up (default: the run's mailbox wait).
    pub wait_ms: Option<u64>,
}

impl MailboxCheck {
    /// How many messages must be selected: `count`, else the number of `messages` checks,
    /// at least 1.
    pub fn expected_count(&self) -> usize {
        self.count.unwrap_or(self.messages.len().max(1))
    }

    fn templates(&self) -> Vec<&Template> {
        let mut out: Vec<&Template> = self.rcpt.iter().chain(&self.marker).collect();
        for m in &self.messages {
            out.extend(m.templates());
        }
        out
    }
}

/// What one delivered message must look like. Content is compared after the header fields
/// the receiving server put on top (`Return-Path`, `Received`, `Received-SPF`, `Delivered-To`,
/// `Authentication-Results`, `DKIM-Signature`, `ARC-*`, `X-*`; for `data`, any whole fields).
#[derive(Clone, Debug, PartialEq)]
pub struct MessageCheck {
    /// The reverse-path without brackets; `""` for `<>`.
    pub from: Option<Template>,
    /// The recipients, in any order and letter case of the domain.
    pub to: Option<Vec<Template>>,
    /// The exact content (`data`, `data_lines`, `data_hex` or `data_base64`): the client's
    /// body and header fields unchanged and in order, whole fields added around them allowed.
    pub data: Option<Payload>,
    /// `contains:` texts the content must contain (after the fields the server added above
    /// it).
    pub contains: Vec<Template>,
    /// Byte strings the content must contain (for 8-bit and control octets).
    pub contains_hex: Vec<Vec<u8>>,
    /// `not_contains:` texts the content must not contain (looked at like `contains`).
    pub not_contains: Vec<Template>,
    /// VMTP metadata that must be stored with the message (others may be there too).
    pub metadata: BTreeMap<String, Template>,
    /// Metadata keys that must not be stored.
    pub no_metadata: Vec<String>,
    /// The message id (e.g. `{{msgid}}` captured from the 250).
    pub id: Option<Template>,
    /// The delivery status the observer reports (the reference's store: `PENDING`,
    /// `DELIVERED`, `OPENED`); upper-cased when read, compared case-insensitively.
    pub status: Option<String>,
    /// A `Received:` trace field among the header fields the server put above the client's
    /// content (RFC 5321 §4.4).
    pub received: bool,
    /// The topmost `Received:` field's FROM clause names this host (the client's EHLO name).
    pub received_from: Option<Template>,
    /// With `data`: the server added header fields only above the client's content, none
    /// among or below the client's own fields.
    pub fields_only_above: bool,
}

impl MessageCheck {
    fn templates(&self) -> Vec<&Template> {
        let mut out: Vec<&Template> = self
            .from
            .iter()
            .chain(self.to.iter().flatten())
            .chain(&self.received_from)
            .collect();
        if let Some(Payload::Text(t)) = &self.data {
            out.push(t);
        }
        out.extend(&self.contains);
        out.extend(&self.not_contains);
        out.extend(self.metadata.values());
        out.extend(&self.id);
        out
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessageCheck {
    from: Option<Template>,
    to: Option<Vec<Template>>,
    data: Option<Template>,
    data_lines: Option<Vec<Template>>,
    data_hex: Option<String>,
    data_base64: Option<String>,
    #[serde(default)]
    contains: Vec<Template>,
    #[serde(default)]
    contains_hex: Vec<String>,
    #[serde(default)]
    not_contains: Vec<Template>,
    #[serde(default)]
    metadata: BTreeMap<String, Template>,
    #[serde(default)]
    no_metadata: Vec<String>,
    id: Option<Template>,
    status: Option<String>,
    #[serde(default)]
    received: bool,
    received_from: Option<Template>,
    #[serde(default)]
    fields_only_above: bool,
}

impl<'de> Deserialize<'de> for MessageCheck {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawMessageCheck::deserialize(deserializer)?;
        let parts = PayloadParts {
            text: raw.data,
            lines: raw.data_lines,
            hex: raw.data_hex,
            base64: raw.data_base64,
        };
        let data = Payload::from_parts(parts, "message data").map_err(de::Error::custom)?;
        let contains_hex = raw
            .contains_hex
            .iter()
            .map(|h| decode_hex(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(de::Error::custom)?;
        Ok(MessageCheck {
            contains_hex,
            from: raw.from,
            to: raw.to,
            data,
            contains: raw.contains,
            not_contains: raw.not_contains,
            metadata: raw.metadata,
            no_metadata: raw.no_metadata,
            id: raw.id,
            status: raw.status.map(|s| s.to_ascii_uppercase()),
            received: raw.received || raw.received_from.is_some(),
            received_from: raw.received_from,
            fields_only_above: raw.fields_only_above,
        })
    }
}

//! SMTP and VMTP commands: the verb table, the parser of one command line and the encoder.
//!
//! RFC 5321 §2.4: "Verbs and argument values ... are not case sensitive". Each verb is
//! declared once in [`VERBS`] with its usage text (the text of a 501 reply) and its argument
//! parser; the server decides in which states a verb is allowed.

use std::fmt;

use super::address::{AddressError, Mailbox, Path, parse_mailbox, parse_path};

/// `esmtp-param = esmtp-keyword ["=" esmtp-value]` (RFC 5321 §4.1.2), keywords kept upper-case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, Option<String>)>);

impl Params {
    /// The value given for `keyword` (case-insensitive): `None` if absent, `Some(None)` if given
    /// without `=value`.
    pub fn get(&self, keyword: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
            .map(|(_, v)| v.as_deref())
    }

    fn parse(text: &str) -> Result<Self, ()> {
        let mut params = Vec::new();
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            let (keyword, value) = match word.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (word, None),
            };
            let keyword_ok = keyword
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
                && keyword
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            let value_ok = value.is_none_or(|v| {
                !v.is_empty() && v.chars().all(|c| c > ' ' && c != '=' && c != '\u{7f}')
            });
            if !keyword_ok || !value_ok {
                return Err(());
            }
            params.push((keyword.to_ascii_uppercase(), value.map(str::to_string)));
        }
        Ok(Self(params))
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.0 {
            match v {
                Some(v) => write!(f, " {k}={v}")?,
                None => write!(f, " {k}")?,
            }
        }
        Ok(())
    }
}

/// One parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain` (RFC 5321 §4.1.1.1): opens a session with service extensions; carries the
    /// client's domain or address literal.
    Ehlo(String),
    /// `HELO domain` (RFC 5321 §4.1.1.1): opens a session without service extensions.
    Helo(String),
    /// `MAIL FROM:<reverse-path> [parameters]` (RFC 5321 §4.1.1.2): starts a mail transaction.
    Mail {
        /// The reverse-path; may be the null path `<>` (bounces, RFC 5321 §4.5.5).
        from: Path,
        /// ESMTP parameters such as `SIZE`, `BODY` or `SMTPUTF8`.
        params: Params,
    },
    /// `RCPT TO:<forward-path> [parameters]` (RFC 5321 §4.1.1.3): adds one recipient.
    Rcpt {
        /// The forward-path; never null, but may be `<Postmaster>` without a domain.
        to: Path,
        /// ESMTP parameters of this recipient.
        params: Params,
    },
    /// `DATA` (RFC 5321 §4.1.1.4): the content follows, ended by `<CRLF>.<CRLF>`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030 §2): exactly `size` octets of content follow the line.
    Bdat {
        /// Octets in the chunk that follows the command line.
        size: u64,
        /// `LAST` was given: this chunk ends the message.
        last: bool,
    },
    /// `RSET` (RFC 5321 §4.1.1.5): aborts the current transaction.
    Rset,
    /// `NOOP [string]` (RFC 5321 §4.1.1.9); the string, if any, has no effect.
    Noop(Option<String>),
    /// `QUIT` (RFC 5321 §4.1.1.10): the server answers 221 and closes the connection.
    Quit,
    /// `VRFY string` (RFC 5321 §4.1.1.6): asks whether the string names a mailbox.
    Vrfy(String),
    /// `EXPN string` (RFC 5321 §4.1.1.7): asks for the members of a mailing list.
    Expn(String),
    /// `HELP [topic]` (RFC 5321 §4.1.1.8).
    Help(Option<String>),
    /// `STARTTLS` (RFC 3207 §4): the TLS handshake starts after the server's 220.
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4).
    Auth {
        /// The SASL mechanism name, upper-cased.
        mechanism: String,
        /// The base64 initial response, if given; `=` stands for an empty one (RFC 4954 §4).
        initial: Option<String>,
    },
    /// VMTP: MAIL plus one RCPT per address, all or nothing.
    VecMail {
        /// The reverse-path, as in MAIL.
        from: Path,
        /// The recipients of `TO:<a,b,...>`; never empty.
        to: Vec<Mailbox>,
        /// ESMTP parameters after the list, e.g. `SIZE=n` (RFC 1870 octets).
        params: Params,
    },
    /// VMTP: a key/value pair attached to the next message.
    Metadata {
        /// The key, `[A-Za-z0-9][A-Za-z0-9._-]{0,63}` (DESIGN).
        key: String,
        /// The rest of the line after the SP that follows the key, kept exactly; may be empty.
        value: String,
    },
    /// VMTP: `ENCRYPT START`, an in-band TLS upgrade.
    EncryptStart,
    /// VMTP: `BATCH n` messages over one envelope.
    Batch(u32),
    /// VMTP: request a read receipt for the message in the transaction.
    ReadAck,
    /// VMTP: `STATUS <message-id>`.
    Status(String),
}

/// The verbs, each declared once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `EHLO` (RFC 5321 §4.1.1.1).
    Ehlo,
    /// `HELO` (RFC 5321 §4.1.1.1).
    Helo,
    /// `MAIL` (RFC 5321 §4.1.1.2).
    Mail,
    /// `RCPT` (RFC 5321 §4.1.1.3).
    Rcpt,
    /// `DATA` (RFC 5321 §4.1.1.4).
    Data,
    /// `BDAT` (RFC 3030, CHUNKING).
    Bdat,
    /// `RSET` (RFC 5321 §4.1.1.5).
    Rset,
    /// `NOOP` (RFC 5321 §4.1.1.9).
    Noop,
    /// `QUIT` (RFC 5321 §4.1.1.10).
    Quit,
    /// `VRFY` (RFC 5321 §4.1.1.6).
    Vrfy,
    /// `EXPN` (RFC 5321 §4.1.1.7).
    Expn,
    /// `HELP` (RFC 5321 §4.1.1.8).
    Help,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH` (RFC 4954).
    Auth,
    /// `VECMAIL` (VMTP, seed 000).
    VecMail,
    /// `METADATA` (VMTP, seed 000).
    Metadata,
    /// `ENCRYPT` (VMTP, seed 000); `ENCRYPT START` is its only form.
    Encrypt,
    /// `BATCH` (VMTP, seed 000).
    Batch,
    /// `READACK` (VMTP, seed 000).
    ReadAck,
    /// `STATUS` (VMTP, DESIGN: the seed's "STATUS callback" as a query).
    Status,
}

/// How one verb is spelled, used and parsed, and where in a session it may come.
pub struct VerbSpec {
    /// The verb this entry declares.
    pub verb: Verb,
    /// The verb as written on the wire, upper-case; matched case-insensitively (RFC 5321 §2.4).
    pub name: &'static str,
    /// Usage text for the 501 reply.
    pub usage: &'static str,
    /// A VMTP verb: a server with VMTP off answers it 502, whatever its arguments.
    pub vmtp: bool,
    /// Where in a session the verb is allowed; elsewhere the server answers 503.
    pub states: States,
    parse: fn(&str) -> Result<Command, ArgError>,
}

/// Where in a session a verb may come. Elsewhere the server refuses it with 503 before it looks
/// at the arguments. RFC 5321 §4.1.4: a client issues EHLO or HELO before a mail transaction
/// (RSET, NOOP, QUIT, VRFY, EXPN and HELP may come before). RFC 5321 §4.1.1.1: a service
/// extension is offered in the reply to EHLO only, so its verbs need EHLO. DESIGN: a VMTP
/// BATCH block takes only DATA, RSET, NOOP and QUIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct States {
    /// Before EHLO or HELO.
    pub before_hello: bool,
    /// After HELO (false: the verb belongs to a service extension, and needs EHLO).
    pub after_helo: bool,
    /// Inside a VMTP BATCH block.
    pub in_batch: bool,
}

impl States {
    /// EHLO and HELO.
    const HELLO: Self = Self::new(true, true, false);
    /// Anywhere in a session, a BATCH block included: RSET, NOOP, QUIT.
    const ANYWHERE: Self = Self::new(true, true, true);
    /// Before or after EHLO or HELO, not in a BATCH block: VRFY, EXPN, HELP.
    const BEFORE_OR_AFTER_HELLO: Self = Self::new(true, true, false);
    /// After EHLO or HELO: MAIL, RCPT.
    const SESSION: Self = Self::new(false, true, false);
    /// After EHLO or HELO, a BATCH block included: DATA.
    const SESSION_AND_BATCH: Self = Self::new(false, true, true);
    /// A service extension's verb: after EHLO only.
    const EXTENSION: Self = Self::new(false, false, false);

    const fn new(before_hello: bool, after_helo: bool, in_batch: bool) -> Self {
        Self {
            before_hello,
            after_helo,
            in_batch,
        }
    }
}

/// The command table.
pub static VERBS: &[VerbSpec] = &[
    VerbSpec {
        verb: Verb::Ehlo,
        name: "EHLO",
        usage: "EHLO domain",
        vmtp: false,
        states: States::HELLO,
        parse: |a| domain_arg(a).map(Command::Ehlo),
    },
    VerbSpec {
        verb: Verb::Helo,
        name: "HELO",
        usage: "HELO domain",
        vmtp: false,
        states: States::HELLO,
        parse: |a| domain_arg(a).map(Command::Helo),
    },
    VerbSpec {
        verb: Verb::Mail,
        name: "MAIL",
        usage: "MAIL FROM:<address> [parameters]",
        vmtp: false,
        states: States::SESSION,
        parse: parse_mail,
    },
    VerbSpec {
        verb: Verb::Rcpt,
        name: "RCPT",
        usage: "RCPT TO:<address> [parameters]",
        vmtp: false,
        states: States::SESSION,
        parse: parse_rcpt,
    },
    VerbSpec {
        verb: Verb::Data,
        name: "DATA",
        usage: "DATA",
        vmtp: false,
        states: States::SESSION_AND_BATCH,
        parse: |a| no_arg(a, Command::Data),
    },
    VerbSpec {
        verb: Verb::Bdat,
        name: "BDAT",
        usage: "BDAT size [LAST]",
        vmtp: false,
        states: States::EXTENSION,
        parse: parse_bdat,
    },
    VerbSpec {
        verb: Verb::Rset,
        name: "RSET",
        usage: "RSET",
        vmtp: false,
        states: States::ANYWHERE,
        parse: |a| no_arg(a, Command::Rset),
    },
    VerbSpec {
        verb: Verb::Noop,
        name: "NOOP",
        usage: "NOOP [string]",
        vmtp: false,
        states: States::ANYWHERE,
        parse: |a| Ok(Command::Noop(opt_arg(a))),
    },
    VerbSpec {
        verb: Verb::Quit,
        name: "QUIT",
        usage: "QUIT",
        vmtp: false,
        states: States::ANYWHERE,
        parse: |a| no_arg(a, Command::Quit),
    },
    VerbSpec {
        verb: Verb::Vrfy,
        name: "VRFY",
        usage: "VRFY string",
        vmtp: false,
        states: States::BEFORE_OR_AFTER_HELLO,
        parse: |a| required(a).map(Command::Vrfy),
    },
    VerbSpec {
        verb: Verb::Expn,
        name: "EXPN",
        usage: "EXPN string",
        vmtp: false,
        states: States::BEFORE_OR_AFTER_HELLO,
        parse: |a| required(a).map(Command::Expn),
    },
    VerbSpec {
        verb: Verb::Help,
        name: "HELP",
        usage: "HELP [topic]",
        vmtp: false,
        states: States::BEFORE_OR_AFTER_HELLO,
        parse: |a| Ok(Command::Help(opt_arg(a))),
    },
    VerbSpec {
        verb: Verb::StartTls,
        name: "STARTTLS",
        usage: "STARTTLS",
        vmtp: false,
        states: States::EXTENSION,
        parse: |a| no_arg(a, Command::StartTls),
    },
    VerbSpec {
        verb: Verb::Auth,
        name: "AUTH",
        usage: "AUTH mechanism [initial-response]",
        vmtp: false,
        states: States::EXTENSION,
        parse: parse_auth,
    },
    VerbSpec {
        verb: Verb::VecMail,
        name: "VECMAIL",
        usage: "VECMAIL FROM:<address> TO:<address,...> [SIZE=n]",
        vmtp: true,
        states: States::EXTENSION,
        parse: parse_vecmail,
    },
    VerbSpec {
        verb: Verb::Metadata,
        name: "METADATA",
        usage: "METADATA key value",
        vmtp: true,
        states: States::EXTENSION,
        parse: parse_metadata,
    },
    VerbSpec {
        verb: Verb::Encrypt,
        name: "ENCRYPT",
        usage: "ENCRYPT START",
        vmtp: true,
        states: States::EXTENSION,
        parse: parse_encrypt,
    },
    VerbSpec {
        verb: Verb::Batch,
        name: "BATCH",
        usage: "BATCH count",
        vmtp: true,
        states: States::EXTENSION,
        parse: parse_batch,
    },
    VerbSpec {
        verb: Verb::ReadAck,
        name: "READACK",
        usage: "READACK",
        vmtp: true,
        states: States::EXTENSION,
        parse: |a| no_arg(a, Command::ReadAck),
    },
    VerbSpec {
        verb: Verb::Status,
        name: "STATUS",
        usage: "STATUS message-id",
        vmtp: true,
        states: States::EXTENSION,
        parse: parse_status,
    },
];

impl Verb {
    /// This verb's entry in [`VERBS`].
    pub fn spec(self) -> &'static VerbSpec {
        VERBS
            .iter()
            .find(|s| s.verb == self)
            .expect("every verb is in the table")
    }

    /// The verb as written on the wire, e.g. `"EHLO"`.
    pub fn name(self) -> &'static str {
        self.spec().name
    }
}

impl Command {
    /// The verb of this command, for the [`VERBS`] table.
    pub fn verb(&self) -> Verb {
        match self {
            Self::Ehlo(_) => Verb::Ehlo,
            Self::Helo(_) => Verb::Helo,
            Self::Mail { .. } => Verb::Mail,
            Self::Rcpt { .. } => Verb::Rcpt,
            Self::Data => Verb::Data,
            Self::Bdat { .. } => Verb::Bdat,
            Self::Rset => Verb::Rset,
            Self::Noop(_) => Verb::Noop,
            Self::Quit => Verb::Quit,
            Self::Vrfy(_) => Verb::Vrfy,
            Self::Expn(_) => Verb::Expn,
            Self::Help(_) => Verb::Help,
            Self::StartTls => Verb::StartTls,
            Self::Auth { .. } => Verb::Auth,
            Self::VecMail { .. } => Verb::VecMail,
            Self::Metadata { .. } => Verb::Metadata,
            Self::EncryptStart => Verb::Encrypt,
            Self::Batch(_) => Verb::Batch,
            Self::ReadAck => Verb::ReadAck,
            Self::Status(_) => Verb::Status,
        }
    }

    /// Parses one command line, without its CRLF.
    pub fn parse(line: &[u8]) -> Result<Self, CommandError> {
        if line.contains(&0) {
            return Err(CommandError::Nul);
        }
        if line.iter().any(|&b| b == b'\r' || b == b'\n') {
            return Err(CommandError::BareLineBreak);
        }
        let (word, args) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &[][..]),
        };
        let Some(spec) = VERBS
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(word))
        else {
            return Err(match std::str::from_utf8(word) {
                Ok(_) => CommandError::Unrecognized,
                Err(_) => CommandError::InvalidUtf8,
            });
        };
        let syntax = |error| CommandError::Syntax {
            verb: spec.verb,
            error,
        };
        // RFC 6531 §3.3 allows UTF-8 in arguments, nothing else: a known verb whose arguments
        // are not UTF-8 has malformed arguments (501), as a malformed address would.
        let args = std::str::from_utf8(args).map_err(|_| syntax(ArgError::InvalidUtf8))?;
        (spec.parse)(args).map_err(syntax)
    }

    /// The command line as a client writes it, with CRLF.
    pub fn to_line(&self) -> String {
        let body = match self {
            Self::Ehlo(d) => format!("EHLO {d}"),
            Self::Helo(d) => format!("HELO {d}"),
            Self::Mail { from, params } => format!("MAIL FROM:{from}{params}"),
            Self::Rcpt { to, params } => format!("RCPT TO:{to}{params}"),
            Self::Data => "DATA".into(),
            Self::Bdat { size, last: true } => format!("BDAT {size} LAST"),
            Self::Bdat { size, last: false } => format!("BDAT {size}"),
            Self::Rset => "RSET".into(),
            Self::Noop(None) => "NOOP".into(),
            Self::Noop(Some(s)) => format!("NOOP {s}"),
            Self::Quit => "QUIT".into(),
            Self::Vrfy(s) => format!("VRFY {s}"),
            Self::Expn(s) => format!("EXPN {s}"),
            Self::Help(None) => "HELP".into(),
            Self::Help(Some(s)) => format!("HELP {s}"),
            Self::StartTls => "STARTTLS".into(),
            Self::Auth {
                mechanism,
                initial: None,
            } => format!("AUTH {mechanism}"),
            Self::Auth {
                mechanism,
                initial: Some(i),
            } => format!("AUTH {mechanism} {i}"),
            Self::VecMail { from, to, params } => {
                let to: Vec<String> = to.iter().map(Mailbox::to_string).collect();
                format!("VECMAIL FROM:{from} TO:<{}>{params}", to.join(","))
            }
            Self::Metadata { key, value } if value.is_empty() => format!("METADATA {key}"),
            Self::Metadata { key, value } => format!("METADATA {key} {value}"),
            Self::EncryptStart => "ENCRYPT START".into(),
            Self::Batch(n) => format!("BATCH {n}"),
            Self::ReadAck => "READACK".into(),
            Self::Status(id) => format!("STATUS {id}"),
        };
        body + "\r\n"
    }
}

/// Why a command line was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// No such verb: 500.
    Unrecognized,
    /// A NUL octet in the line: 500.
    Nul,
    /// A CR or LF that is not part of the line's CRLF: 500.
    BareLineBreak,
    /// Octets that are not UTF-8: 500.
    InvalidUtf8,
    /// A known verb with bad arguments: 501 (555 for unknown parameters is the session's call).
    Syntax {
        /// The verb whose arguments were refused; its usage text goes in the 501.
        verb: Verb,
        /// What is wrong with the arguments.
        error: ArgError,
    },
}

/// What is wrong with a known verb's arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArgError {
    /// A required argument is absent (`EHLO` alone).
    Missing,
    /// An argument where none is allowed (`DATA x`), or one word too many.
    Unexpected,
    /// An argument that does not parse: a bad domain, BDAT size, BATCH count or message id, or
    /// `ENCRYPT` without `START`.
    Malformed,
    /// A malformed path or mailbox (its length aside: see `PathTooLong`).
    Address(AddressError),
    /// A path or mailbox over the RFC 5321 §4.5.3.1 length limits.
    PathTooLong,
    /// Arguments that are not UTF-8.
    InvalidUtf8,
    /// ESMTP parameters that are not `esmtp-keyword ["=" esmtp-value]` (RFC 5321 §4.1.2).
    BadParameters,
    /// A METADATA key outside `[A-Za-z0-9][A-Za-z0-9._-]{0,63}` (DESIGN).
    BadMetadataKey,
    /// `VECMAIL ... TO:<>`: no recipients.
    EmptyRecipientList,
}

impl From<AddressError> for ArgError {
    fn from(error: AddressError) -> Self {
        match error {
            AddressError::TooLong => Self::PathTooLong,
            other => Self::Address(other),
        }
    }
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("argument required"),
            Self::Unexpected => f.write_str("no argument allowed"),
            Self::Malformed => f.write_str("malformed argument"),
            Self::Address(e) => e.fmt(f),
            Self::PathTooLong => f.write_str("path too long"),
            Self::InvalidUtf8 => f.write_str("arguments are not valid UTF-8"),
            Self::BadParameters => f.write_str("malformed parameters"),
            Self::BadMetadataKey => {
                f.write_str("metadata key must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}")
            }
            Self::EmptyRecipientList => f.write_str("at least one recipient required"),
        }
    }
}

fn no_arg(args: &str, command: Command) -> Result<Command, ArgError> {
    if args.trim_matches(' ').is_empty() {
        Ok(command)
    } else {
        Err(ArgError::Unexpected)
    }
}

fn opt_arg(args: &str) -> Option<String> {
    let a = args.trim_matches(' ');
    (!a.is_empty()).then(|| a.to_string())
}

fn required(args: &str) -> Result<String, ArgError> {
    opt_arg(args).ok_or(ArgError::Missing)
}

fn domain_arg(args: &str) -> Result<String, ArgError> {
    let arg = required(args)?;
    let first = arg.split(' ').next().unwrap_or_default();
    // RFC 5321 §4.5.3.1.2: "The maximum total length of a domain name or number is 255
    // octets." (It also keeps the EHLO reply, which names the client, within 512 octets.)
    let ok = first.len() <= super::address::MAX_DOMAIN
        && (super::address::is_domain(first) || super::address::is_address_literal(first));
    if ok {
        Ok(first.to_string())
    } else {
        Err(ArgError::Malformed)
    }
}

/// Strips a case-insensitive `FROM:`/`TO:` prefix. Spaces after the colon are tolerated, as
/// most deployed servers do, though RFC 5321 has none.
fn strip_keyword<'a>(args: &'a str, keyword: &str) -> Result<&'a str, ArgError> {
    let n = keyword.len();
    if args.len() < n || !args.is_char_boundary(n) || !args[..n].eq_ignore_ascii_case(keyword) {
        return Err(ArgError::Malformed);
    }
    Ok(args[n..].trim_start_matches(' '))
}

fn path_and_params(
    args: &str,
    keyword: &str,
    null: bool,
    postmaster: bool,
) -> Result<(Path, Params), ArgError> {
    let rest = strip_keyword(args, keyword)?;
    let (path, rest) = parse_path(rest, null, postmaster)?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return Err(ArgError::Address(AddressError::Trailing));
    }
    let params = Params::parse(rest).map_err(|()| ArgError::BadParameters)?;
    Ok((path, params))
}

fn parse_mail(args: &str) -> Result<Command, ArgError> {
    let (from, params) = path_and_params(args, "FROM:", true, false)?;
    Ok(Command::Mail { from, params })
}

fn parse_rcpt(args: &str) -> Result<Command, ArgError> {
    let (to, params) = path_and_params(args, "TO:", false, true)?;
    Ok(Command::Rcpt { to, params })
}

fn parse_bdat(args: &str) -> Result<Command, ArgError> {
    let mut words = args.split(' ').filter(|w| !w.is_empty());
    let size = words.next().ok_or(ArgError::Missing)?;
    if size.is_empty() || size.len() > 19 || !size.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ArgError::Malformed);
    }
    let size = size.parse().map_err(|_| ArgError::Malformed)?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return Err(ArgError::Malformed),
    };
    if words.next().is_some() {
        return Err(ArgError::Unexpected);
    }
    Ok(Command::Bdat { size, last })
}

fn parse_auth(args: &str) -> Result<Command, ArgError> {
    let mut words = args.split(' ').filter(|w| !w.is_empty());
    let mechanism = words.next().ok_or(ArgError::Missing)?.to_ascii_uppercase();
    let initial = words.next().map(str::to_string);
    if words.next().is_some() {
        return Err(ArgError::Unexpected);
    }
    Ok(Command::Auth { mechanism, initial })
}

/// `VECMAIL FROM:<a> TO:<b,c,...> [SIZE=n]`.
fn parse_vecmail(args: &str) -> Result<Command, ArgError> {
    let rest = strip_keyword(args, "FROM:")?;
    let (from, rest) = parse_path(rest, true, false)?;
    let rest = rest
        .strip_prefix(' ')
        .ok_or(ArgError::Missing)?
        .trim_start_matches(' ');
    let mut list = strip_keyword(rest, "TO:")?
        .strip_prefix('<')
        .ok_or(ArgError::Address(AddressError::MissingBrackets))?;
    let mut to = Vec::new();
    loop {
        if list.starts_with('>') && to.is_empty() {
            return Err(ArgError::EmptyRecipientList);
        }
        let (mailbox, rest) = parse_mailbox(list.trim_start_matches(' '))?;
        to.push(mailbox);
        let rest = rest.trim_start_matches(' ');
        if let Some(after) = rest.strip_prefix(',') {
            list = after;
        } else if let Some(after) = rest.strip_prefix('>') {
            list = after;
            break;
        } else {
            return Err(ArgError::Address(AddressError::MissingBrackets));
        }
    }
    if !(list.is_empty() || list.starts_with(' ')) {
        return Err(ArgError::Address(AddressError::Trailing));
    }
    let params = Params::parse(list).map_err(|()| ArgError::BadParameters)?;
    Ok(Command::VecMail { from, to, params })
}

/// DESIGN: key `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`, value the rest of the line after the one
/// SP that follows the key, kept exactly; `METADATA key` alone sets an empty value.
fn parse_metadata(args: &str) -> Result<Command, ArgError> {
    let (key, value) = args.split_once(' ').unwrap_or((args, ""));
    let key_ok = key.len() <= 64
        && key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !key_ok {
        return Err(ArgError::BadMetadataKey);
    }
    Ok(Command::Metadata {
        key: key.to_string(),
        value: value.to_string(),
    })
}

fn parse_encrypt(args: &str) -> Result<Command, ArgError> {
    if args.trim_matches(' ').eq_ignore_ascii_case("START") {
        Ok(Command::EncryptStart)
    } else {
        Err(ArgError::Malformed)
    }
}

fn parse_batch(args: &str) -> Result<Command, ArgError> {
    let arg = required(args)?;
    if arg.len() > 9 || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ArgError::Malformed);
    }
    arg.parse()
        .map(Command::Batch)
        .map_err(|_| ArgError::Malformed)
}

/// DESIGN: a message id is 1 to 64 ASCII letters and digits (the reference's are 12 hex
/// digits); anything else, including a second argument, is malformed.
fn parse_status(args: &str) -> Result<Command, ArgError> {
    let id = required(args)?;
    let ok = id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(Command::Status(id))
    } else {
        Err(ArgError::Malformed)
    }
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;

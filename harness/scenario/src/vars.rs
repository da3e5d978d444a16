//! Templates (`{{name}}` placeholders in scenario text) and the variables of one case run.
//!
//! Cases run in parallel against one server, so every run of a case gets values that no other
//! case (and no earlier run against a persistent server) uses: `{{rcpt}}` is a local part made
//! from a hash of the case id and a per-run nonce, `{{marker}}` a token to put in the message.
//! Delivery checks then select exactly the case's own messages.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::{Deserialize, Deserializer, Error as _};

/// Variables every case has, whatever its steps capture.
pub const BUILTINS: &[&str] = &[
    "domain",
    "user",
    "postmaster",
    "rcpt",
    "rcpt2",
    "rcpt3",
    "rcpt4",
    "rcpt5",
    "rcpt6",
    "rcpt7",
    "rcpt8",
    "rcpt9",
    "sender",
    "sender_domain",
    "client",
    "marker",
    "foreign_domain",
    "foreign_rcpt",
    "date",
    "size_max",
    "size_over",
    "auth_user",
    "auth_password",
    "auth_plain",
    "mmtp_sender",
    "mmtp_sender2",
    "mmtp_rcpt",
    "mmtp_rcpt2",
    "mmtp_rcpt3",
];

/// Whether `name` is one of the [`BUILTINS`], usable in any case without a capture.
pub fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// Text with `{{name}}` placeholders, parsed when the scenario is loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

impl Template {
    /// Parses `text`; a `{{` without its `}}` or with a name that is not
    /// `[a-z_][a-z0-9_]*` is an error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed `{{{{` in {text:?}"))?;
            let name = after[..end].trim();
            if !valid_name(name) {
                return Err(format!(
                    "bad variable name {name:?} in {text:?} (expected [a-z_][a-z0-9_]*)"
                ));
            }
            parts.push(Part::Var(name.to_string()));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Self {
            source: text.to_string(),
            parts,
        })
    }

    /// A template without placeholders.
    pub fn literal(text: &str) -> Self {
        Self {
            source: text.to_string(),
            parts: vec![Part::Text(text.to_string())],
        }
    }

    /// The text as written in the scenario.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The names of the variables the template uses.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The text with each `{{name}}` replaced by its value in `vars`; the first variable
    /// without a value is the error (a builtin the run could not provide, such as
    /// `{{auth_user}}` without credentials).
    pub fn expand(&self, vars: &Vars) -> Result<String, UnknownVariable> {
        let mut out = String::with_capacity(self.source.len());
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(name) => out.push_str(
                    vars.get(name)
                        .ok_or_else(|| UnknownVariable(name.clone()))?,
                ),
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Template::parse(&text).map_err(D::Error::custom)
    }
}

/// `[a-z_][a-z0-9_]*`: the names variables and captures may have.
pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A template used a variable that has no value (a capture that did not happen).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownVariable(pub String);

impl fmt::Display for UnknownVariable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "variable `{{{{{}}}}}` has no value", self.0)
    }
}

impl std::error::Error for UnknownVariable {}

/// What the target is told to expect of the values: its domain, its users, the names the
/// harness uses for itself.
#[derive(Clone, Debug)]
pub struct VarConfig {
    /// A domain the target delivers locally (`{{domain}}`).
    pub domain: String,
    /// When the target only accepts known local parts: the users `{{user}}` and `{{rcptN}}` use.
    /// Empty means any local part is accepted, so recipients are unique per case.
    pub local_users: Vec<String>,
    /// The EHLO name (`{{client}}`).
    pub helo: String,
    /// The domain of `{{sender}}`.
    pub sender_domain: String,
    /// A domain the target must not relay to (`{{foreign_domain}}`, `{{foreign_rcpt}}`).
    pub foreign_domain: String,
    /// Makes this run's values differ from an earlier run's (a persistent mailbox keeps them).
    pub nonce: String,
    /// AUTH credentials `(user, password)` for `{{auth_user}}`, `{{auth_password}}` and
    /// `{{auth_plain}}`; cases that use them are SKIP without.
    pub auth: Option<(String, String)>,
}

impl Default for VarConfig {
    fn default() -> Self {
        Self {
            domain: "example.test".into(),
            local_users: Vec::new(),
            helo: "client.example.org".into(),
            sender_domain: "example.org".into(),
            foreign_domain: "example.net".into(),
            nonce: run_nonce(),
            auth: None,
        }
    }
}

impl VarConfig {
    /// Whether `{{rcpt}}` addresses are unique to the case (any local part accepted).
    pub fn unique_recipients(&self) -> bool {
        self.local_users.is_empty()
    }
}

/// Six hex digits from the clock and the process id.
pub fn run_nonce() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!(
        "{:06x}",
        fnv1a(
            &[
                nanos.to_le_bytes(),
                u64::from(std::process::id()).to_le_bytes()
            ]
            .concat()
        ) & 0xff_ffff
    )
}

/// FNV-1a, 64 bits: a stable hash of a case id (std's hasher is randomly keyed).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The values of one case run: the builtins, then whatever its steps capture.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    values: BTreeMap<String, String>,
    /// Names whose values differ from run to run (redacted in normalized transcripts).
    volatile: Vec<String>,
    /// Run-dependent text that is not a variable (a computed hash, a signature), with the
    /// placeholder that replaces it in normalized transcripts.
    hidden: Vec<(String, String)>,
}

impl Vars {
    /// The builtins for one run of the case `case_id`: unique addresses and `{{marker}}`
    /// made from a hash of the id and `config.nonce`, the rest from `config`. `{{size_max}}`
    /// and `{{size_over}}` are not among them: the runner sets them from what the target
    /// advertises.
    pub fn for_case(case_id: &str, config: &VarConfig) -> Self {
        let tag = format!(
            "mtps-{:08x}-{}",
            fnv1a(case_id.as_bytes()) & 0xffff_ffff,
            config.nonce
        );
        let mut vars = Vars::default();
        let domain = &config.domain;
        vars.set_stable("domain", domain);
        vars.set_stable("postmaster", &format!("postmaster@{domain}"));
        vars.set_stable("client", &config.helo);
        vars.set_stable("sender_domain", &config.sender_domain);
        vars.set_stable("foreign_domain", &config.foreign_domain);
        let user = config
            .local_users
            .first()
            .map_or("postmaster", String::as_str);
        vars.set_stable("user", user);
        for n in 1..=9 {
            let name = if n == 1 {
                "rcpt".to_string()
            } else {
                format!("rcpt{n}")
            };
            if config.local_users.is_empty() {
                vars.set(&name, &format!("{tag}-r{n}@{domain}"));
            } else {
                let user = &config.local_users[(n - 1) % config.local_users.len()];
                vars.set_stable(&name, &format!("{user}@{domain}"));
            }
        }
        vars.set("sender", &format!("{tag}-s@{}", config.sender_domain));
        vars.set(
            "foreign_rcpt",
            &format!("{tag}-f@{}", config.foreign_domain),
        );
        vars.set("marker", &tag);
        // MMTP addresses, `(local)%(domain)` (seed §3.3), unique like the SMTP ones.
        for (name, suffix, domain) in [
            ("mmtp_sender", "s", &config.sender_domain),
            ("mmtp_sender2", "s2", &config.sender_domain),
            ("mmtp_rcpt", "r1", domain),
            ("mmtp_rcpt2", "r2", domain),
            ("mmtp_rcpt3", "r3", domain),
        ] {
            vars.set(name, &format!("({tag}-{suffix})%({domain})"));
        }
        if let Some((user, password)) = &config.auth {
            use base64::Engine;
            let plain = format!("\0{user}\0{password}");
            vars.set_stable("auth_user", user);
            vars.set_stable("auth_password", password);
            vars.set_stable(
                "auth_plain",
                &base64::engine::general_purpose::STANDARD.encode(plain),
            );
        }
        vars.set("date", &rfc5322_date(SystemTime::now()));
        vars
    }

    /// The value of a variable, builtin or captured; `None` when it has none.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Sets a value that is the same on every run against the target (not redacted in
    /// transcripts), such as its advertised SIZE maximum.
    pub fn set_fixed(&mut self, name: &str, value: &str) {
        self.values.insert(name.to_string(), value.to_string());
    }

    /// Sets a value that changes between runs (captures, unique names): normalized
    /// transcripts show it as `{{name}}` (see [`redactions`](Self::redactions)).
    pub fn set(&mut self, name: &str, value: &str) {
        self.values.insert(name.to_string(), value.to_string());
        if !self.volatile.iter().any(|v| v == name) {
            self.volatile.push(name.to_string());
        }
    }

    /// Redacts `text` as `placeholder` in normalized transcripts without making it a variable.
    pub fn hide(&mut self, text: &str, placeholder: &str) {
        if !text.is_empty() && !self.hidden.iter().any(|(t, _)| t == text) {
            self.hidden
                .push((text.to_string(), placeholder.to_string()));
        }
    }

    fn set_stable(&mut self, name: &str, value: &str) {
        self.values.insert(name.to_string(), value.to_string());
    }

    /// The recipient addresses the case may have used (for selecting its messages).
    pub fn recipients(&self) -> Vec<String> {
        self.values
            .iter()
            .filter(|(k, _)| k.starts_with("rcpt"))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// `(value, "{{name}}")` for every run-dependent value, longest value first, so a
    /// transcript can be made independent of the run.
    pub fn redactions(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .volatile
            .iter()
            .filter_map(|name| {
                let value = self.values.get(name)?;
                (!value.is_empty()).then(|| (value.clone(), format!("{{{{{name}}}}}")))
            })
            .collect();
        out.extend(self.hidden.iter().cloned());
        out.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        out
    }
}

/// `Sat, 22 Nov 2026 20:31:00 +0000`.
pub fn rfc5322_date(time: SystemTime) -> String {
    mtp_proto::time::rfc5322(unix_ms(time))
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(time: SystemTime) -> String {
    mtp_proto::time::rfc3339(unix_ms(time))
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parses_and_expands() {
        let t = Template::parse("RCPT TO:<{{rcpt}}> {{ marker }}").unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), ["rcpt", "marker"]);
        let mut vars = Vars::default();
        vars.set("rcpt", "a@b");
        vars.set("marker", "m");
        assert_eq!(t.expand(&vars).unwrap(), "RCPT TO:<a@b> m");
        assert!(Template::parse("{{rcpt").is_err());
        assert!(Template::parse("{{Rcpt}}").is_err());
        assert_eq!(
            Template::parse("x }} y").unwrap().expand(&vars).unwrap(),
            "x }} y"
        );
    }

    #[test]
    fn case_values_are_unique_and_redactable() {
        let config = VarConfig {
            nonce: "abcdef".into(),
            ..VarConfig::default()
        };
        let a = Vars::for_case("smtp-a", &config);
        let b = Vars::for_case("smtp-b", &config);
        assert_ne!(a.get("rcpt"), b.get("rcpt"));
        assert!(a.get("rcpt").unwrap().ends_with("-r1@example.test"));
        assert_eq!(a.get("user"), Some("postmaster"));
        let redactions = a.redactions();
        assert!(redactions.iter().any(|(_, name)| name == "{{marker}}"));
        assert!(!redactions.iter().any(|(_, name)| name == "{{domain}}"));
    }

    #[test]
    fn fixed_users_are_reused() {
        let config = VarConfig {
            local_users: vec!["alice".into(), "bob".into()],
            ..VarConfig::default()
        };
        let vars = Vars::for_case("x", &config);
        assert_eq!(vars.get("rcpt"), Some("alice@example.test"));
        assert_eq!(vars.get("rcpt2"), Some("bob@example.test"));
        assert_eq!(vars.get("rcpt3"), Some("alice@example.test"));
        assert_eq!(vars.get("user"), Some("alice"));
    }

    #[test]
    fn dates() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_379_460);
        assert_eq!(rfc5322_date(t), "Sun, 22 Nov 2026 20:31:00 +0000");
        assert_eq!(rfc3339(t), "2026-11-22T20:31:00Z");
    }
}

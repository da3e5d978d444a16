//! What a scenario expects of a reply: code patterns, enhanced codes, text patterns, EHLO
//! keywords, alternatives and captures. Everything is checked while the YAML is read, so a bad
//! regex or code pattern is an error with its line and column.
//!
//! Short forms: `expect: 250`, `expect: 2xx`, `expect: "250|251"`, `expect: [250, 5xx]`;
//! the long form is a mapping (see `scenarios/README.md`).

use std::collections::BTreeMap;
use std::fmt;

use mtp_proto::smtp::extension::Extensions;
use mtp_proto::smtp::reply::Reply;
use regex::Regex;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// One reply-code pattern: three characters, each a digit or `x` (`250`, `2xx`, `55x`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodePattern([Option<u8>; 3]);

impl CodePattern {
    /// Reads a pattern as written in a scenario (`250`, `2xx`, `55X`; surrounding blanks
    /// ignored). The first character must be 2-5 or `x`; the error says what was wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes = text.trim().as_bytes();
        let bad = || format!("bad reply code pattern {text:?} (expected e.g. 250, 2xx or 55x)");
        if bytes.len() != 3 {
            return Err(bad());
        }
        let mut digits = [None; 3];
        for (slot, &b) in digits.iter_mut().zip(bytes) {
            *slot = match b {
                b'0'..=b'9' => Some(b - b'0'),
                b'x' | b'X' => None,
                _ => return Err(bad()),
            };
        }
        if !matches!(digits[0], None | Some(2..=5)) {
            return Err(bad());
        }
        Ok(Self(digits))
    }

    /// The pattern matching exactly `code` (`expect: 250` written as a YAML number); an error
    /// outside 200..=599.
    pub fn exact(code: u16) -> Result<Self, String> {
        if !(200..=599).contains(&code) {
            return Err(format!("reply code {code} is not in 200..=599"));
        }
        let d = |n: u16| Some((n % 10) as u8);
        Ok(Self([d(code / 100), d(code / 10), d(code)]))
    }

    /// Whether the reply code `code` fits: every digit given is equal, `x` takes any.
    pub fn matches(&self, code: u16) -> bool {
        let actual = [code / 100, code / 10 % 10, code % 10];
        self.0
            .iter()
            .zip(actual)
            .all(|(want, got)| want.is_none_or(|w| u16::from(w) == got))
    }
}

impl fmt::Display for CodePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.0 {
            match d {
                Some(d) => write!(f, "{d}")?,
                None => f.write_str("x")?,
            }
        }
        Ok(())
    }
}

/// Acceptable reply codes: any of the patterns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeSet(pub Vec<CodePattern>);

impl CodeSet {
    /// Reads alternatives separated by `|` (`"250|251"`, `"2xx|551"`); one bad pattern is the
    /// error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let patterns = text
            .split('|')
            .map(CodePattern::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(patterns))
    }

    /// Whether `code` fits any of the patterns.
    pub fn matches(&self, code: u16) -> bool {
        self.0.iter().any(|p| p.matches(code))
    }
}

impl fmt::Display for CodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for CodeSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CodeSet;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a reply code (250), a pattern (2xx, \"250|251\") or a list of them")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CodeSet, E> {
                let code = u16::try_from(v).map_err(|_| E::custom("reply code out of range"))?;
                Ok(CodeSet(vec![CodePattern::exact(code).map_err(E::custom)?]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CodeSet, E> {
                let v = u64::try_from(v).map_err(|_| E::custom("reply code out of range"))?;
                self.visit_u64(v)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CodeSet, E> {
                CodeSet::parse(v).map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CodeSet, A::Error> {
                let mut all = Vec::new();
                while let Some(set) = seq.next_element::<CodeSet>()? {
                    all.extend(set.0);
                }
                if all.is_empty() {
                    return Err(de::Error::custom("empty list of reply codes"));
                }
                Ok(CodeSet(all))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// An RFC 3463 enhanced status code pattern: `5.1.1`, `5.5.x`, `x.x.x` (present, any value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnhancedPattern([Option<u16>; 3]);

impl EnhancedPattern {
    /// Reads `class.subject.detail`, each part a number or `x` (`5.1.1`, `5.x.x`); blanks
    /// around it are ignored.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad =
            || format!("bad enhanced status code pattern {text:?} (expected e.g. 5.1.1 or 5.x.x)");
        let parts: Vec<&str> = text.trim().split('.').collect();
        if parts.len() != 3 {
            return Err(bad());
        }
        let mut out = [None; 3];
        for (slot, part) in out.iter_mut().zip(parts) {
            *slot = match part {
                "x" | "X" => None,
                digits => Some(digits.parse().map_err(|_| bad())?),
            };
        }
        Ok(Self(out))
    }

    /// Whether the reply's enhanced status code fits: every number given is equal, `x` takes
    /// any. A reply without an enhanced code never matches, not even `x.x.x`.
    pub fn matches(&self, enhanced: Option<mtp_proto::smtp::reply::EnhancedCode>) -> bool {
        let Some(e) = enhanced else { return false };
        let actual = [u16::from(e.class), e.subject, e.detail];
        self.0
            .iter()
            .zip(actual)
            .all(|(want, got)| want.is_none_or(|w| w == got))
    }
}

impl fmt::Display for EnhancedPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = |p: Option<u16>| p.map_or("x".to_string(), |n| n.to_string());
        write!(
            f,
            "{}.{}.{}",
            part(self.0[0]),
            part(self.0[1]),
            part(self.0[2])
        )
    }
}

impl<'de> Deserialize<'de> for EnhancedPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `2.0` would be read as a float by YAML; insist on text.
        let text = String::deserialize(deserializer)?;
        EnhancedPattern::parse(&text).map_err(de::Error::custom)
    }
}

/// A regular expression, compiled when the scenario is loaded.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// The compiled expression (Rust `regex` syntax, unanchored: it is searched for, so use
    /// `^`/`$` to anchor).
    pub regex: Regex,
}

impl Pattern {
    /// Compiles `source`; the error (`bad regular expression: ...`) is the loader's message.
    pub fn new(source: &str) -> Result<Self, String> {
        Regex::new(source)
            .map(|regex| Self { regex })
            .map_err(|e| format!("bad regular expression: {e}"))
    }

    /// The expression as written in the scenario (shown in failures as `/.../`).
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Pattern::new(&text).map_err(de::Error::custom)
    }
}

/// An EHLO keyword, optionally with one parameter that must be listed: `PIPELINING`,
/// `AUTH PLAIN`, `VMTP BATCH` (for VMTP a bare keyword offers every verb).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyword {
    /// The keyword, upper-cased when read (`PIPELINING`, `AUTH`, `VMTP`).
    pub keyword: String,
    /// The parameter that must be among those the keyword is advertised with (`PLAIN` of
    /// `AUTH PLAIN`, compared case-insensitively; for `VMTP`, a verb). `None`: the keyword
    /// alone suffices.
    pub param: Option<String>,
}

impl Keyword {
    /// Reads `KEYWORD` or `KEYWORD PARAM` (letters, digits and `-` in the keyword); more than
    /// one parameter is an error. Whether the keyword is a known one is checked elsewhere
    /// (`requires` only).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut words = text.split_ascii_whitespace();
        let keyword = words
            .next()
            .ok_or_else(|| "empty EHLO keyword".to_string())?
            .to_ascii_uppercase();
        if !keyword
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(format!("bad EHLO keyword {keyword:?}"));
        }
        let param = words.next().map(str::to_string);
        if words.next().is_some() {
            return Err(format!(
                "{text:?}: give one keyword and at most one parameter"
            ));
        }
        Ok(Self { keyword, param })
    }

    /// Whether an EHLO reply offers this keyword (and parameter).
    pub fn offered_by(&self, extensions: &Extensions) -> bool {
        if self.keyword == "VMTP" {
            let advertised = extensions.has(mtp_proto::smtp::extension::Extension::Vmtp);
            return advertised
                && self
                    .param
                    .as_deref()
                    .is_none_or(|v| extensions.vmtp_verb(v));
        }
        match (&self.param, extensions.params(&self.keyword)) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(want), Some(params)) => params.iter().any(|p| p.eq_ignore_ascii_case(want)),
        }
    }
}

impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.param {
            Some(p) => write!(f, "{} {p}", self.keyword),
            None => f.write_str(&self.keyword),
        }
    }
}

impl<'de> Deserialize<'de> for Keyword {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Keyword::parse(&text).map_err(de::Error::custom)
    }
}

/// One or several values: `advertises: PIPELINING` or `advertises: [PIPELINING, SIZE]`.
#[derive(Clone, Debug, PartialEq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value or a list of values")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let one = T::deserialize(de::value::StrDeserializer::<E>::new(v))?;
                Ok(OneOrMany(vec![one]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut all = Vec::new();
                while let Some(one) = seq.next_element()? {
                    all.push(one);
                }
                Ok(OneOrMany(all))
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

/// One acceptable reply. Every field given must hold.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ReplyMatch {
    /// `code:` the reply codes allowed (a code, pattern or list); `None`: any code.
    pub code: Option<CodeSet>,
    /// `enhanced:` the RFC 3463 enhanced status code the reply must carry; `None`: not checked.
    pub enhanced: Option<EnhancedPattern>,
    /// Searched in the reply text: every line without code and enhanced code, joined by LF.
    pub text: Option<Pattern>,
    /// `advertises:` EHLO keywords (and parameters) the reply must offer; read as an EHLO
    /// reply.
    pub advertises: Vec<Keyword>,
    /// `omits:` EHLO keywords (and parameters) the reply must not offer.
    pub omits: Vec<Keyword>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    code: Option<CodeSet>,
    enhanced: Option<EnhancedPattern>,
    text: Option<Pattern>,
    #[serde(default)]
    advertises: OneOrMany<Keyword>,
    #[serde(default)]
    omits: OneOrMany<Keyword>,
}

impl From<RawMatch> for ReplyMatch {
    fn from(raw: RawMatch) -> Self {
        Self {
            code: raw.code,
            enhanced: raw.enhanced,
            text: raw.text,
            advertises: raw.advertises.0,
            omits: raw.omits.0,
        }
    }
}

impl ReplyMatch {
    fn code(set: CodeSet) -> Self {
        Self {
            code: Some(set),
            ..Self::default()
        }
    }

    /// `None` when the reply matches, else why not.
    pub fn mismatch(&self, reply: &Reply) -> Option<String> {
        let code = reply.code.get();
        if let Some(set) = &self.code
            && !set.matches(code)
        {
            return Some(format!("reply code {code} is not {set}"));
        }
        if let Some(pattern) = &self.enhanced
            && !pattern.matches(reply.enhanced)
        {
            return Some(match reply.enhanced {
                Some(e) => format!("enhanced status code {e} is not {pattern}"),
                None => format!("no enhanced status code (expected {pattern})"),
            });
        }
        if let Some(pattern) = &self.text
            && !pattern.regex.is_match(&reply.lines.join("\n"))
        {
            return Some(format!("text does not match /{}/", pattern.as_str()));
        }
        let extensions = Extensions::from_ehlo(reply);
        if let Some(k) = self.advertises.iter().find(|k| !k.offered_by(&extensions)) {
            return Some(format!("EHLO keyword {k} is not advertised"));
        }
        if let Some(k) = self.omits.iter().find(|k| k.offered_by(&extensions)) {
            return Some(format!("EHLO keyword {k} is advertised"));
        }
        None
    }
}

impl fmt::Display for ReplyMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        parts.push(
            self.code
                .as_ref()
                .map_or("any code".to_string(), ToString::to_string),
        );
        if let Some(e) = &self.enhanced {
            parts.push(format!("enhanced {e}"));
        }
        if let Some(t) = &self.text {
            parts.push(format!("text /{}/", t.as_str()));
        }
        for k in &self.advertises {
            parts.push(format!("advertising {k}"));
        }
        for k in &self.omits {
            parts.push(format!("not advertising {k}"));
        }
        f.write_str(&parts.join(", "))
    }
}

impl<'de> Deserialize<'de> for ReplyMatch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ReplyMatch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a reply code, a code pattern or a mapping")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ReplyMatch, E> {
                let code = u16::try_from(v).map_err(|_| E::custom("reply code out of range"))?;
                let pattern = CodePattern::exact(code).map_err(E::custom)?;
                Ok(ReplyMatch::code(CodeSet(vec![pattern])))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ReplyMatch, E> {
                let v = u64::try_from(v).map_err(|_| E::custom("reply code out of range"))?;
                self.visit_u64(v)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ReplyMatch, E> {
                Ok(ReplyMatch::code(CodeSet::parse(v).map_err(E::custom)?))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ReplyMatch, A::Error> {
                RawMatch::deserialize(de::value::MapAccessDeserializer::new(map)).map(Into::into)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// An `expect` step: one reply that matches any of the alternatives, then the captures.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectReply {
    /// The acceptable replies (`any_of:`, or the single one the short forms and the mapping's
    /// own `code`/`enhanced`/`text`/`advertises`/`omits` give); never empty.
    pub any_of: Vec<ReplyMatch>,
    /// Variable name to pattern: the first capture group (or the whole match) becomes the
    /// variable's value for the rest of the case.
    pub capture: BTreeMap<String, Pattern>,
    /// `timeout_ms:` how long to wait for this reply, in milliseconds; `None`: the run's step
    /// timeout (`--step-timeout`, 5 s by default).
    pub timeout_ms: Option<u64>,
    /// For a step that only sets the stage: any other reply makes the case SKIP with this
    /// reason (the case's requirement cannot be judged), instead of failing it.
    pub or_skip: Option<String>,
}

impl ExpectReply {
    /// An expectation of just a reply code (set), with no capture, timeout or `or_skip`: what
    /// `expect: 250` and the transcript's `S: 250` mean.
    pub fn code(set: CodeSet) -> Self {
        Self {
            any_of: vec![ReplyMatch::code(set)],
            capture: BTreeMap::new(),
            timeout_ms: None,
            or_skip: None,
        }
    }

    /// `None` when the reply matches one alternative, else why not.
    pub fn mismatch(&self, reply: &Reply) -> Option<String> {
        let reasons: Vec<String> = self
            .any_of
            .iter()
            .map(|m| m.mismatch(reply))
            .collect::<Option<Vec<_>>>()?;
        Some(reasons.join("; "))
    }
}

impl fmt::Display for ExpectReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alternatives: Vec<String> = self.any_of.iter().map(ToString::to_string).collect();
        f.write_str(&alternatives.join(" or "))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    code: Option<CodeSet>,
    enhanced: Option<EnhancedPattern>,
    text: Option<Pattern>,
    #[serde(default)]
    advertises: OneOrMany<Keyword>,
    #[serde(default)]
    omits: OneOrMany<Keyword>,
    any_of: Option<Vec<ReplyMatch>>,
    #[serde(default)]
    capture: BTreeMap<String, Pattern>,
    timeout_ms: Option<u64>,
    or_skip: Option<String>,
}

impl TryFrom<RawExpect> for ExpectReply {
    type Error = String;

    fn try_from(raw: RawExpect) -> Result<Self, String> {
        let own = RawMatch {
            code: raw.code,
            enhanced: raw.enhanced,
            text: raw.text,
            advertises: raw.advertises,
            omits: raw.omits,
        };
        let has_own = own.code.is_some()
            || own.enhanced.is_some()
            || own.text.is_some()
            || !own.advertises.0.is_empty()
            || !own.omits.0.is_empty();
        let any_of = match raw.any_of {
            Some(_) if has_own => {
                return Err(
                    "give either `any_of` or code/enhanced/text/advertises/omits, not both".into(),
                );
            }
            Some(list) if list.is_empty() => return Err("`any_of` is empty".into()),
            Some(list) => list,
            None => vec![own.into()],
        };
        if let Some(name) = raw.capture.keys().find(|n| !super::vars::valid_name(n)) {
            return Err(format!(
                "bad capture variable name {name:?} (expected [a-z_][a-z0-9_]*)"
            ));
        }
        if raw
            .or_skip
            .as_deref()
            .is_some_and(|why| why.trim().is_empty())
        {
            return Err("`or_skip` needs a reason".into());
        }
        Ok(Self {
            any_of,
            capture: raw.capture,
            timeout_ms: raw.timeout_ms,
            or_skip: raw.or_skip,
        })
    }
}

impl<'de> Deserialize<'de> for ExpectReply {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExpectReply;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a reply code, a code pattern, a list of alternatives or a mapping")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ExpectReply, E> {
                let code = u16::try_from(v).map_err(|_| E::custom("reply code out of range"))?;
                Ok(ExpectReply::code(CodeSet(vec![
                    CodePattern::exact(code).map_err(E::custom)?,
                ])))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ExpectReply, E> {
                let v = u64::try_from(v).map_err(|_| E::custom("reply code out of range"))?;
                self.visit_u64(v)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ExpectReply, E> {
                Ok(ExpectReply::code(CodeSet::parse(v).map_err(E::custom)?))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ExpectReply, A::Error> {
                let mut any_of = Vec::new();
                while let Some(m) = seq.next_element::<ReplyMatch>()? {
                    any_of.push(m);
                }
                if any_of.is_empty() {
                    return Err(de::Error::custom("empty list of alternatives"));
                }
                Ok(ExpectReply {
                    any_of,
                    capture: BTreeMap::new(),
                    timeout_ms: None,
                    or_skip: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ExpectReply, A::Error> {
                let raw = RawExpect::deserialize(de::value::MapAccessDeserializer::new(map))?;
                ExpectReply::try_from(raw).map_err(de::Error::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtp_proto::smtp::reply::ReplyParser;

    fn reply(bytes: &[u8]) -> Reply {
        let mut p = ReplyParser::new();
        p.feed(bytes);
        p.next_reply().unwrap().unwrap()
    }

    #[test]
    fn code_patterns() {
        assert!(CodePattern::parse("2xx").unwrap().matches(250));
        assert!(!CodePattern::parse("2xx").unwrap().matches(354));
        assert!(CodePattern::parse("55x").unwrap().matches(554));
        assert!(CodePattern::parse("x").is_err());
        assert!(CodePattern::parse("6xx").is_err());
        let set = CodeSet::parse("250|251").unwrap();
        assert!(set.matches(251) && !set.matches(252));
        assert_eq!(set.to_string(), "250|251");
    }

    #[test]
    fn matches_enhanced_text_and_keywords() {
        let ehlo = reply(b"250-mx.example.test hi\r\n250-SIZE 100\r\n250-AUTH PLAIN\r\n250 VMTP VECMAIL BATCH\r\n");
        let m = ReplyMatch {
            code: Some(CodeSet::parse("250").unwrap()),
            advertises: vec![
                Keyword::parse("size").unwrap(),
                Keyword::parse("AUTH PLAIN").unwrap(),
                Keyword::parse("VMTP BATCH").unwrap(),
            ],
            omits: vec![
                Keyword::parse("STARTTLS").unwrap(),
                Keyword::parse("VMTP READACK").unwrap(),
            ],
            ..ReplyMatch::default()
        };
        assert_eq!(m.mismatch(&ehlo), None);
        let bad = reply(b"550 5.1.1 <x@y>: User unknown\r\n");
        let m = ReplyMatch {
            enhanced: Some(EnhancedPattern::parse("5.1.x").unwrap()),
            text: Some(Pattern::new("User unknown").unwrap()),
            ..ReplyMatch::default()
        };
        assert_eq!(m.mismatch(&bad), None);
        let m = ReplyMatch {
            enhanced: Some(EnhancedPattern::parse("5.5.x").unwrap()),
            ..ReplyMatch::default()
        };
        assert!(m.mismatch(&bad).unwrap().contains("5.1.1 is not 5.5.x"));
    }
}

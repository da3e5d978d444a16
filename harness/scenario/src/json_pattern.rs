//! Partial JSON patterns: what a scenario expects of a JSON value (an MMTP response, an HTTP
//! body), with captures into variables. Protocol-neutral: it matches any `serde_json::Value`.
//!
//! A pattern is written as JSON (in YAML) and read like this:
//!
//! - an object matches an object that has every listed key with a matching value; other keys
//!   are ignored;
//! - an array matches an array of the same length whose elements match in order;
//! - a string matches the same string (`{{var}}` placeholders expanded first), a number the
//!   same number, `true`/`false`/`null` themselves;
//! - an object whose keys all start with `$` is an operator object; its operators must all
//!   hold:
//!   - `$regex: RE` a string in which RE is found;
//!   - `$capture: NAME` anything (present); its value becomes `{{NAME}}`: a string as it is,
//!     anything else as compact JSON;
//!   - `$contains: [P, ...]` an array with, for each P, an element matching it;
//!   - `$len: N` an array, object or string (in characters) of that length;
//!   - `$type: T` a value of type `string`, `number`, `integer`, `boolean`, `null`, `array`,
//!     `object` or `any`;
//!   - `$absent: true` (as an object member) the key is not there;
//!   - `$any_of: [P, ...]` a value matching one of the patterns (the first that matches
//!     gives the captures); as an object member it may be missing when one alternative is
//!     `$absent`;
//!   - `$not: P` a value that does not match P; alone, as an object member, it also accepts
//!     the key being missing;
//!   - `$eq: V` exactly V (an object or array compared whole, every key).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer};
use serde_json::{Number, Value};

use super::expect::Pattern;
use super::vars::{Template, UnknownVariable, Vars, valid_name};

/// A parsed pattern. See the module documentation for the forms.
#[derive(Clone, Debug, PartialEq)]
pub enum JsonPattern {
    /// `null`: matches `null` only.
    Null,
    /// `true` or `false`: matches that boolean only.
    Bool(bool),
    /// A number: matches a number of the same value (`2` and `2.0` are equal; integers are
    /// compared exactly).
    Number(Number),
    /// A string: matches the same string, after its `{{variables}}` are expanded.
    String(Template),
    /// An array: matches an array of the same length, element by element in order.
    Array(Vec<JsonPattern>),
    /// An object without operators: matches an object that has each listed key (in the order
    /// written here) with a matching value; keys not listed are ignored.
    Object(Vec<(String, JsonPattern)>),
    /// An object whose keys all start with `$`: the operators, which must all hold.
    Ops(Box<Ops>),
}

/// The operators of an operator object; every one given must hold.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Ops {
    /// `$regex: RE`: the value is a string in which RE is found (unanchored).
    pub regex: Option<Pattern>,
    /// `$capture: NAME`: the value (a string as it is, anything else as compact JSON) becomes
    /// `{{NAME}}` for later steps, once the whole pattern matched.
    pub capture: Option<String>,
    /// `$contains: [P, ...]`: the value is an array with, for each P, some element matching it.
    pub contains: Option<Vec<JsonPattern>>,
    /// `$len: N`: the value is an array or object with N entries, or a string of N characters.
    pub len: Option<usize>,
    /// `$type: T`: the value is of that JSON type.
    pub kind: Option<JsonType>,
    /// `$absent: true`: as an object member, the key must be missing (any value fails); never
    /// combined with other operators.
    pub absent: bool,
    /// `$any_of: [P, ...]`: the value matches one of the patterns (never empty); the first
    /// that matches gives the captures.
    pub any_of: Option<Vec<JsonPattern>>,
    /// `$not: P`: the value does not match P; alone as an object member, a missing key passes
    /// too.
    pub not: Option<JsonPattern>,
    /// `$eq: VALUE`: the value equals VALUE exactly, every key of an object (no templates).
    pub eq: Option<Value>,
}

/// `$type` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonType {
    /// `string`: a JSON string.
    String,
    /// `number`: any JSON number, integer or not.
    Number,
    /// `integer`: a number that is a whole number in the `i64` or `u64` range (`2.0` is not).
    Integer,
    /// `boolean`: `true` or `false`.
    Boolean,
    /// `null`: `null`.
    Null,
    /// `array`: a JSON array.
    Array,
    /// `object`: a JSON object.
    Object,
    /// `any`: any value (as an object member, the key must be present).
    Any,
}

impl JsonType {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "string" => Self::String,
            "number" => Self::Number,
            "integer" => Self::Integer,
            "boolean" => Self::Boolean,
            "null" => Self::Null,
            "array" => Self::Array,
            "object" => Self::Object,
            "any" => Self::Any,
            _ => {
                return Err(format!(
                    "$type {text:?}: expected string, number, integer, boolean, null, array, object or any"
                ));
            }
        })
    }

    fn holds(self, value: &Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Number => value.is_number(),
            Self::Integer => value.is_i64() || value.is_u64(),
            Self::Boolean => value.is_boolean(),
            Self::Null => value.is_null(),
            Self::Array => value.is_array(),
            Self::Object => value.is_object(),
            Self::Any => true,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Integer => "integer",
            Self::Boolean => "boolean",
            Self::Null => "null",
            Self::Array => "array",
            Self::Object => "object",
            Self::Any => "any",
        }
    }
}

/// Why a value does not match, or why it could not be judged.
#[derive(Clone, Debug, PartialEq)]
pub enum PatternError {
    /// The value differs from the pattern at `path` (`$.meta.tags.priority[0]`).
    Mismatch {
        /// Where in the value, from `$` (the root): `.key` for members, `[i]` for elements.
        path: String,
        /// What was expected and what was found (`expected true, got false`).
        reason: String,
    },
    /// A `{{var}}` in the pattern has no value.
    Variable(UnknownVariable),
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mismatch { path, reason } => write!(f, "{path}: {reason}"),
            Self::Variable(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PatternError {}

/// `(name, value)` pairs a successful match captured, in pattern order.
pub type Captures = Vec<(String, String)>;

fn mismatch(path: &str, reason: impl Into<String>) -> PatternError {
    PatternError::Mismatch {
        path: path.to_string(),
        reason: reason.into(),
    }
}

/// Compact JSON of a value, shortened for messages.
pub fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 160 {
        return text;
    }
    let head: String = text.chars().take(150).collect();
    format!("{head}… ({} bytes)", text.len())
}

fn same_number(a: &Number, b: &Number) -> bool {
    match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
        (Some(x), Some(y), _, _) => x == y,
        (_, _, Some(x), Some(y)) => x == y,
        _ => a.as_f64() == b.as_f64(),
    }
}

impl JsonPattern {
    /// Reads a pattern from its JSON form (what the YAML holds).
    pub fn from_value(value: &Value) -> Result<Self, String> {
        Ok(match value {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => Self::Number(n.clone()),
            Value::String(s) => Self::String(Template::parse(s)?),
            Value::Array(items) => Self::Array(
                items
                    .iter()
                    .map(Self::from_value)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) if !map.is_empty() && map.keys().all(|k| k.starts_with('$')) => {
                Self::Ops(Box::new(Ops::from_map(map)?))
            }
            Value::Object(map) => {
                if let Some(key) = map.keys().find(|k| k.starts_with('$')) {
                    return Err(format!(
                        "{key:?}: an object mixes operators ($...) and keys; put the operators in an object of their own"
                    ));
                }
                Self::Object(
                    map.iter()
                        .map(|(k, v)| Ok((k.clone(), Self::from_value(v)?)))
                        .collect::<Result<_, String>>()?,
                )
            }
        })
    }

    /// Every template in the pattern (for checking variables when the scenario is loaded).
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = Vec::new();
        self.walk(&mut |p| {
            if let JsonPattern::String(t) = p {
                out.push(t);
            }
        });
        out
    }

    /// Every variable name the pattern captures.
    pub fn captures(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut |p| {
            if let JsonPattern::Ops(ops) = p
                && let Some(name) = &ops.capture
            {
                out.push(name.as_str());
            }
        });
        out
    }

    fn walk<'a>(&'a self, visit: &mut dyn FnMut(&'a JsonPattern)) {
        visit(self);
        match self {
            Self::Array(items) => items.iter().for_each(|p| p.walk(visit)),
            Self::Object(members) => members.iter().for_each(|(_, p)| p.walk(visit)),
            Self::Ops(ops) => {
                for p in ops.contains.iter().chain(&ops.any_of).flatten() {
                    p.walk(visit);
                }
                if let Some(p) = &ops.not {
                    p.walk(visit);
                }
            }
            _ => {}
        }
    }

    /// Whether an object member written with this pattern may be missing: `$absent`, a
    /// `$not` alone (a missing value is not what it excludes), or `$any_of` with such an
    /// alternative.
    fn accepts_missing(&self) -> bool {
        let Self::Ops(ops) = self else {
            return false;
        };
        let only_not = ops.not.is_some()
            && Ops {
                not: None,
                ..ops.as_ref().clone()
            } == Ops::default();
        ops.absent
            || only_not
            || ops
                .any_of
                .as_ref()
                .is_some_and(|alternatives| alternatives.iter().any(Self::accepts_missing))
    }

    /// Matches `value`; on success returns what was captured.
    pub fn check(&self, value: &Value, vars: &Vars) -> Result<Captures, PatternError> {
        let mut captures = Vec::new();
        self.check_at(value, vars, "$", &mut captures)?;
        Ok(captures)
    }

    fn check_at(
        &self,
        value: &Value,
        vars: &Vars,
        path: &str,
        captures: &mut Captures,
    ) -> Result<(), PatternError> {
        let differs = || mismatch(path, format!("expected {self}, got {}", show(value)));
        match (self, value) {
            (Self::Null, Value::Null) => Ok(()),
            (Self::Bool(a), Value::Bool(b)) if a == b => Ok(()),
            (Self::Number(a), Value::Number(b)) if same_number(a, b) => Ok(()),
            (Self::String(t), Value::String(s)) => {
                let want = t.expand(vars).map_err(PatternError::Variable)?;
                if &want == s {
                    Ok(())
                } else {
                    Err(mismatch(path, format!("expected {want:?}, got {s:?}")))
                }
            }
            (Self::Array(items), Value::Array(values)) => {
                if items.len() != values.len() {
                    return Err(mismatch(
                        path,
                        format!(
                            "expected an array of {} elements, got {}: {}",
                            items.len(),
                            values.len(),
                            show(value)
                        ),
                    ));
                }
                for (i, (p, v)) in items.iter().zip(values).enumerate() {
                    p.check_at(v, vars, &format!("{path}[{i}]"), captures)?;
                }
                Ok(())
            }
            (Self::Object(members), Value::Object(map)) => {
                for (key, p) in members {
                    let at = format!("{path}.{key}");
                    match (map.get(key), p) {
                        (None, p) if p.accepts_missing() => {}
                        (None, _) => return Err(mismatch(&at, "missing")),
                        (Some(v), p) => p.check_at(v, vars, &at, captures)?,
                    }
                }
                Ok(())
            }
            (Self::Ops(ops), value) => ops.check(value, vars, path, captures),
            _ => Err(differs()),
        }
    }
}

impl Ops {
    fn from_map(map: &serde_json::Map<String, Value>) -> Result<Self, String> {
        let mut ops = Ops::default();
        let patterns = |v: &Value, op: &str| -> Result<Vec<JsonPattern>, String> {
            let Value::Array(items) = v else {
                return Err(format!("{op} takes a list of patterns"));
            };
            items.iter().map(JsonPattern::from_value).collect()
        };
        for (key, v) in map {
            match key.as_str() {
                "$regex" => {
                    let text = v.as_str().ok_or("$regex takes a regular expression")?;
                    ops.regex = Some(Pattern::new(text)?);
                }
                "$capture" => {
                    let name = v.as_str().ok_or("$capture takes a variable name")?;
                    if !valid_name(name) {
                        return Err(format!(
                            "bad capture variable name {name:?} (expected [a-z_][a-z0-9_]*)"
                        ));
                    }
                    ops.capture = Some(name.to_string());
                }
                "$contains" => ops.contains = Some(patterns(v, "$contains")?),
                "$any_of" => {
                    let list = patterns(v, "$any_of")?;
                    if list.is_empty() {
                        return Err("$any_of is empty".into());
                    }
                    ops.any_of = Some(list);
                }
                "$len" => {
                    let n = v.as_u64().ok_or("$len takes a number")?;
                    ops.len = Some(usize::try_from(n).map_err(|_| "$len is too large")?);
                }
                "$type" => ops.kind = Some(JsonType::parse(v.as_str().unwrap_or_default())?),
                "$absent" => {
                    if v != &Value::Bool(true) {
                        return Err("$absent takes `true`".into());
                    }
                    ops.absent = true;
                }
                "$not" => ops.not = Some(JsonPattern::from_value(v)?),
                "$eq" => ops.eq = Some(v.clone()),
                other => {
                    return Err(format!(
                        "unknown operator {other:?} (expected $regex, $capture, $contains, $len, $type, $absent, $any_of, $not or $eq)"
                    ));
                }
            }
        }
        if ops.absent && map.len() > 1 {
            return Err("$absent cannot be combined with other operators".into());
        }
        Ok(ops)
    }

    fn check(
        &self,
        value: &Value,
        vars: &Vars,
        path: &str,
        captures: &mut Captures,
    ) -> Result<(), PatternError> {
        if self.absent {
            return Err(mismatch(
                path,
                format!("expected no such key, got {}", show(value)),
            ));
        }
        if let Some(kind) = self.kind
            && !kind.holds(value)
        {
            return Err(mismatch(
                path,
                format!(
                    "expected a value of type {}, got {}",
                    kind.name(),
                    show(value)
                ),
            ));
        }
        if let Some(want) = &self.eq
            && want != value
        {
            return Err(mismatch(
                path,
                format!("expected exactly {}, got {}", show(want), show(value)),
            ));
        }
        if let Some(re) = &self.regex {
            match value {
                Value::String(s) if re.regex.is_match(s) => {}
                _ => {
                    return Err(mismatch(
                        path,
                        format!(
                            "expected a string matching /{}/, got {}",
                            re.as_str(),
                            show(value)
                        ),
                    ));
                }
            }
        }
        if let Some(n) = self.len {
            let len = match value {
                Value::Array(a) => Some(a.len()),
                Value::Object(o) => Some(o.len()),
                Value::String(s) => Some(s.chars().count()),
                _ => None,
            };
            if len != Some(n) {
                return Err(mismatch(
                    path,
                    format!("expected length {n}, got {}", show(value)),
                ));
            }
        }
        if let Some(wanted) = &self.contains {
            let Value::Array(items) = value else {
                return Err(mismatch(
                    path,
                    format!("expected an array, got {}", show(value)),
                ));
            };
            for (i, p) in wanted.iter().enumerate() {
                let found = items.iter().enumerate().find_map(|(j, item)| {
                    let mut local = Vec::new();
                    p.check_at(item, vars, &format!("{path}[{j}]"), &mut local)
                        .ok()
                        .map(|()| local)
                });
                match found {
                    Some(local) => captures.extend(local),
                    None => {
                        // A variable error is the harness's, not a mismatch: report it.
                        if let Some(item) = items.first()
                            && let Err(e @ PatternError::Variable(_)) =
                                p.check_at(item, vars, path, &mut Vec::new())
                        {
                            return Err(e);
                        }
                        return Err(mismatch(
                            path,
                            format!("no element matches $contains[{i}] {p}: {}", show(value)),
                        ));
                    }
                }
            }
        }
        if let Some(alternatives) = &self.any_of {
            let mut reasons = Vec::new();
            let mut matched = false;
            for p in alternatives {
                let mut local = Vec::new();
                match p.check_at(value, vars, path, &mut local) {
                    Ok(()) => {
                        captures.extend(local);
                        matched = true;
                        break;
                    }
                    Err(e @ PatternError::Variable(_)) => return Err(e),
                    Err(e) => reasons.push(e.to_string()),
                }
            }
            if !matched {
                return Err(mismatch(
                    path,
                    format!("no alternative of $any_of matches ({})", reasons.join("; ")),
                ));
            }
        }
        if let Some(p) = &self.not {
            match p.check_at(value, vars, path, &mut Vec::new()) {
                Ok(()) => {
                    return Err(mismatch(
                        path,
                        format!("expected anything but {p}, got {}", show(value)),
                    ));
                }
                Err(e @ PatternError::Variable(_)) => return Err(e),
                Err(_) => {}
            }
        }
        if let Some(name) = &self.capture {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            captures.push((name.clone(), text));
        }
        Ok(())
    }
}

impl fmt::Display for JsonPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Number(n) => write!(f, "{n}"),
            Self::String(t) => write!(f, "{:?}", t.as_str()),
            Self::Array(items) => {
                f.write_str("[")?;
                for (i, p) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{p}")?;
                }
                f.write_str("]")
            }
            Self::Object(members) => {
                f.write_str("{")?;
                for (i, (k, p)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{k:?}:{p}")?;
                }
                f.write_str(",…}")
            }
            Self::Ops(ops) => write!(f, "{ops}"),
        }
    }
}

impl fmt::Display for Ops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |ps: &[JsonPattern]| {
            ps.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut parts = Vec::new();
        if self.absent {
            parts.push("absent".to_string());
        }
        if let Some(k) = self.kind {
            parts.push(format!("a {}", k.name()));
        }
        if let Some(v) = &self.eq {
            parts.push(format!("exactly {}", show(v)));
        }
        if let Some(re) = &self.regex {
            parts.push(format!("/{}/", re.as_str()));
        }
        if let Some(n) = self.len {
            parts.push(format!("of length {n}"));
        }
        if let Some(c) = &self.contains {
            parts.push(format!("containing [{}]", list(c)));
        }
        if let Some(a) = &self.any_of {
            parts.push(format!("one of [{}]", list(a)));
        }
        if let Some(p) = &self.not {
            parts.push(format!("not {p}"));
        }
        if let Some(name) = &self.capture {
            parts.push(format!("-> {{{{{name}}}}}"));
        }
        if parts.is_empty() {
            parts.push("anything".into());
        }
        f.write_str(&parts.join(" "))
    }
}

impl<'de> Deserialize<'de> for JsonPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        JsonPattern::from_value(&value).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pattern(v: Value) -> JsonPattern {
        JsonPattern::from_value(&v).unwrap()
    }

    fn vars() -> Vars {
        let mut vars = Vars::default();
        vars.set("who", "(bob)%(example.test)");
        vars
    }

    fn reason(p: &JsonPattern, v: Value) -> String {
        p.check(&v, &vars()).unwrap_err().to_string()
    }

    #[test]
    fn objects_match_partially_and_strings_expand() {
        let p = pattern(json!({"status": "OK", "email": "{{who}}", "count": 2}));
        let v = json!({"status": "OK", "email": "(bob)%(example.test)", "count": 2, "x": [1]});
        assert_eq!(p.check(&v, &vars()), Ok(vec![]));
        assert_eq!(
            reason(&p, json!({"status": "OK", "count": 2})),
            "$.email: missing"
        );
        // Keys are checked in sorted order: `email` before `status`.
        assert_eq!(
            reason(&p, json!({"status": "ERROR", "email": "x", "count": 2})),
            "$.email: expected \"(bob)%(example.test)\", got \"x\""
        );
        assert_eq!(
            reason(
                &p,
                json!({"status": "ERROR", "email": "(bob)%(example.test)", "count": 2})
            ),
            "$.status: expected \"OK\", got \"ERROR\""
        );
        // Numbers compare by value whatever their form.
        assert!(pattern(json!(2)).check(&json!(2.0), &vars()).is_ok());
        assert!(pattern(json!(2)).check(&json!(3), &vars()).is_err());
        assert!(pattern(json!(-2)).check(&json!(-2), &vars()).is_ok());
    }

    #[test]
    fn arrays_are_exact_unless_contains() {
        let p = pattern(json!({"tags": ["high", "low"]}));
        assert!(p.check(&json!({"tags": ["high", "low"]}), &vars()).is_ok());
        assert_eq!(
            reason(&p, json!({"tags": ["high"]})),
            "$.tags: expected an array of 2 elements, got 1: [\"high\"]"
        );
        assert_eq!(
            reason(&p, json!({"tags": ["low", "high"]})),
            "$.tags[0]: expected \"high\", got \"low\""
        );
        let p = pattern(json!({"tags": {"$contains": ["low"], "$len": 2}}));
        assert!(p.check(&json!({"tags": ["high", "low"]}), &vars()).is_ok());
        assert!(p.check(&json!({"tags": ["high", "x"]}), &vars()).is_err());
        assert!(
            p.check(&json!({"tags": ["low", "x", "y"]}), &vars())
                .is_err()
        );
    }

    #[test]
    fn operators() {
        let p = pattern(json!({
            "code": {"$regex": "^HASHCASH_", "$capture": "code"},
            "id": {"$type": "string", "$capture": "id"},
            "n": {"$capture": "n"},
            "signatureVerified": {"$absent": true},
            "status": {"$any_of": ["OK", {"$regex": "^ERR"}]},
            "message": {"$not": ""},
            "tags": {"$eq": {"a": [1]}}
        }));
        let v = json!({"code": "HASHCASH_STALE", "id": "m1", "n": {"b": 1}, "status": "ERROR",
            "message": "x", "tags": {"a": [1]}});
        assert_eq!(
            p.check(&v, &vars()).unwrap(),
            vec![
                ("code".to_string(), "HASHCASH_STALE".to_string()),
                ("id".to_string(), "m1".to_string()),
                ("n".to_string(), "{\"b\":1}".to_string()),
            ]
        );
        let mut bad = v.clone();
        bad["signatureVerified"] = json!(true);
        assert_eq!(
            reason(&p, bad),
            "$.signatureVerified: expected no such key, got true"
        );
        let mut bad = v.clone();
        bad["tags"] = json!({"a": [1], "b": 2});
        assert!(reason(&p, bad).starts_with("$.tags: expected exactly"));
        let mut bad = v;
        bad["message"] = json!("");
        assert!(reason(&p, bad).starts_with("$.message: expected anything but"));
        // Missing members: `$not` alone and `$any_of` with `$absent` accept them.
        let p = pattern(json!({"a": {"$not": true}, "b": {"$any_of": [false, {"$absent": true}]}}));
        assert!(p.check(&json!({}), &vars()).is_ok());
        assert!(p.check(&json!({"a": false, "b": false}), &vars()).is_ok());
        assert!(p.check(&json!({"b": true}), &vars()).is_err());
        assert!(
            pattern(json!({"a": {"$not": true, "$type": "boolean"}}))
                .check(&json!({}), &vars())
                .is_err()
        );
    }

    #[test]
    fn captures_in_contains_and_any_of() {
        let p =
            pattern(json!({"messages": {"$contains": [{"id": {"$capture": "first"}, "k": 2}]}}));
        let v = json!({"messages": [{"id": "a", "k": 1}, {"id": "b", "k": 2}]});
        assert_eq!(
            p.check(&v, &vars()).unwrap(),
            vec![("first".to_string(), "b".to_string())]
        );
        assert_eq!(p.captures(), vec!["first"]);
    }

    #[test]
    fn bad_patterns_are_load_errors() {
        for bad in [
            json!({"$regex": "("}),
            json!({"$capture": "Bad"}),
            json!({"$nope": 1}),
            json!({"$absent": true, "$type": "string"}),
            json!({"$type": "float"}),
            json!({"a": 1, "$len": 2}),
            json!({"$any_of": []}),
            json!("{{unclosed"),
        ] {
            assert!(JsonPattern::from_value(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_variables_are_not_mismatches() {
        let p = pattern(json!({"a": "{{nope}}"}));
        assert!(matches!(
            p.check(&json!({"a": "x"}), &vars()),
            Err(PatternError::Variable(_))
        ));
        assert_eq!(
            p.templates()
                .iter()
                .flat_map(|t| t.variables())
                .collect::<Vec<_>>(),
            vec!["nope"]
        );
    }
}

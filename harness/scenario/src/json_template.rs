//! JSON values a scenario sends (`send_json`, `write_json`): written as YAML, kept in the order
//! written (an MMTP messageHash and signature cover the compact JSON of `content` in its key
//! order), with `{{var}}` placeholders in strings and computed fields the harness fills in when
//! the step runs.
//!
//! A computed field is an object with a single key starting with `$`:
//!
//! | field | value |
//! | --- | --- |
//! | `$now: {offset_ms: N, as: NAME}` | the current time in Unix milliseconds, plus N (both optional) |
//! | `$json: "TEXT"` | TEXT with placeholders expanded, parsed as JSON (a captured value, a number) |
//! | `$message_hash: {of: VALUE}` | the lowercase hex SHA-256 of the compact JSON of VALUE; without `of`, of the enclosing packet's `content` |
//! | `$hashcash: {broken: KIND, as: NAME}` | `{"token":..,"counter":..}` minted for the enclosing packet's sender, recipient and `meta.timestamp` at the connection's difficulty; KIND breaks it on purpose |
//! | `$sign: {key: NAME, of: VALUE}` | an armored detached OpenPGP signature with the fixture key `keys/NAME.priv.asc` over the enclosing packet's `content` (or VALUE) |
//! | `$public_key: NAME` | the armored fixture public key `keys/NAME.pub.asc` |
//! | `$text: {repeat: TEXT, times: N}` | TEXT repeated N times |
//!
//! `as: NAME` stores the value (a string as is, anything else as compact JSON) in `{{NAME}}`
//! for later steps. "Enclosing packet" is the nearest object around the field that has the
//! keys the computation needs (`content`; `sender`, `recipient` and `meta.timestamp`).

use std::fmt;

use mtp_proto::mmtp::json::Json;
use serde::de::{self, Deserialize, Deserializer};

use super::vars::{Template, valid_name};

/// A JSON value with placeholders and computed fields.
#[derive(Clone, Debug, PartialEq)]
pub enum JsonTemplate {
    /// null, a boolean or a number, as written.
    Literal(Json),
    /// A string; its `{{variables}}` are expanded when the step runs.
    String(Template),
    /// An array, its elements in order.
    Array(Vec<JsonTemplate>),
    /// An object, its members in the order written (sent in that order).
    Object(Vec<(String, JsonTemplate)>),
    /// An object with a single `$` key: a field computed when the step runs.
    Computed(Box<Computed>),
}

/// How a `$hashcash` token is broken on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokenStamp {
    /// Minted and claimed at one digit below the connection's difficulty.
    BelowDifficulty,
    /// Claims the difficulty, but the counter's hash lacks the zeros.
    NotEnoughWork,
    /// A valid token whose `counter` field is one more than the counter in the token.
    WrongCounter,
    /// A valid token for another sender.
    OtherSender,
    /// A valid token for another recipient.
    OtherRecipient,
    /// A valid token for another timestamp (one second earlier).
    OtherTimestamp,
}

impl BrokenStamp {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "below_difficulty" => Self::BelowDifficulty,
            "not_enough_work" => Self::NotEnoughWork,
            "wrong_counter" => Self::WrongCounter,
            "other_sender" => Self::OtherSender,
            "other_recipient" => Self::OtherRecipient,
            "other_timestamp" => Self::OtherTimestamp,
            _ => {
                return Err(format!(
                    "$hashcash broken: {text:?}: expected below_difficulty, not_enough_work, wrong_counter, other_sender, other_recipient or other_timestamp"
                ));
            }
        })
    }
}

/// A field the harness computes when the step runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Computed {
    /// `$now`: the current time as a number of Unix milliseconds.
    Now {
        /// `offset_ms:` milliseconds added to now, negative for the past (default 0).
        offset_ms: i64,
        /// `as:` the variable the value is stored in.
        store: Option<String>,
    },
    /// `$json: "TEXT"`: TEXT with its variables expanded, parsed as JSON (a captured number
    /// or object put back as a value, not a string).
    Json(Template),
    /// `$message_hash`: lowercase hex SHA-256 of the compact JSON of a value.
    MessageHash {
        /// `of:` the value hashed; `None`: the enclosing packet's `content`.
        of: Option<JsonTemplate>,
        /// `as:` the variable the hash is stored in.
        store: Option<String>,
    },
    /// `$hashcash`: a `{"token":..,"counter":..}` object minted for the enclosing packet's
    /// sender, recipient and `meta.timestamp` at the connection's difficulty.
    Hashcash {
        /// `broken:` how to break the token on purpose; `None`: a valid token.
        broken: Option<BrokenStamp>,
        /// `as:` the variable the token object is stored in (as compact JSON).
        store: Option<String>,
    },
    /// `$sign`: an armored detached OpenPGP signature made with a fixture key.
    Sign {
        /// `key:` the fixture key's name: `keys/NAME.priv.asc` next to the scenario file.
        key: String,
        /// `of:` the value signed; `None`: the enclosing packet's `content`.
        of: Option<JsonTemplate>,
        /// `as:` the variable the signature is stored in.
        store: Option<String>,
    },
    /// `$public_key: NAME`: the armored fixture public key `keys/NAME.pub.asc`.
    PublicKey(String),
    /// `$text`: a long string, one text repeated.
    Text {
        /// `repeat:` the text repeated (variables expanded).
        repeat: Template,
        /// `times:` how many copies.
        times: usize,
    },
}

impl Computed {
    /// The variable the value is stored in, if any.
    pub fn store(&self) -> Option<&str> {
        match self {
            Self::Now { store, .. }
            | Self::MessageHash { store, .. }
            | Self::Hashcash { store, .. }
            | Self::Sign { store, .. } => store.as_deref(),
            _ => None,
        }
    }

    /// Whether the value depends on the enclosing packet (computed after the rest).
    pub fn needs_packet(&self) -> bool {
        matches!(
            self,
            Self::MessageHash { of: None, .. }
                | Self::Hashcash { .. }
                | Self::Sign { of: None, .. }
        )
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Now { .. } => "$now",
            Self::Json(_) => "$json",
            Self::MessageHash { .. } => "$message_hash",
            Self::Hashcash { .. } => "$hashcash",
            Self::Sign { .. } => "$sign",
            Self::PublicKey(_) => "$public_key",
            Self::Text { .. } => "$text",
        }
    }

    fn parse(op: &str, args: &Json) -> Result<Self, String> {
        let fields = Args::new(op, args)?;
        let computed = match op {
            "$now" => {
                fields.only(&["offset_ms", "as"])?;
                Self::Now {
                    offset_ms: fields.int("offset_ms")?.unwrap_or(0),
                    store: fields.name("as")?,
                }
            }
            "$json" => Self::Json(Template::parse(
                args.as_str().ok_or("$json takes a string of JSON text")?,
            )?),
            "$message_hash" => {
                fields.only(&["of", "as"])?;
                Self::MessageHash {
                    of: fields.template("of")?,
                    store: fields.name("as")?,
                }
            }
            "$hashcash" => {
                fields.only(&["broken", "as"])?;
                Self::Hashcash {
                    broken: fields
                        .string("broken")?
                        .as_deref()
                        .map(BrokenStamp::parse)
                        .transpose()?,
                    store: fields.name("as")?,
                }
            }
            "$sign" => {
                fields.only(&["key", "of", "as"])?;
                Self::Sign {
                    key: key_name(&fields.string("key")?.ok_or("$sign needs a `key`")?)?,
                    of: fields.template("of")?,
                    store: fields.name("as")?,
                }
            }
            "$public_key" => Self::PublicKey(key_name(
                args.as_str().ok_or("$public_key takes a key name")?,
            )?),
            "$text" => {
                fields.only(&["repeat", "times"])?;
                Self::Text {
                    repeat: Template::parse(
                        &fields.string("repeat")?.ok_or("$text needs `repeat`")?,
                    )?,
                    times: usize::try_from(fields.int("times")?.ok_or("$text needs `times`")?)
                        .map_err(|_| "$text: times must not be negative")?,
                }
            }
            other => {
                return Err(format!(
                    "unknown computed field {other:?} (expected $now, $json, $message_hash, $hashcash, $sign, $public_key or $text)"
                ));
            }
        };
        Ok(computed)
    }
}

/// A fixture key name: letters, digits and `()%._-` (an MMTP address is one).
fn key_name(name: &str) -> Result<String, String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "()%._-".contains(c));
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!("bad key name {name:?}"))
    }
}

/// The arguments object of a computed field (`null` and `{}` mean none).
struct Args<'a> {
    op: &'a str,
    object: Vec<(&'a str, &'a Json)>,
}

impl<'a> Args<'a> {
    fn new(op: &'a str, args: &'a Json) -> Result<Self, String> {
        let object = match args {
            Json::Object(o) => o.iter().collect(),
            Json::Null => Vec::new(),
            _ if matches!(op, "$json" | "$public_key") => Vec::new(),
            _ => return Err(format!("{op} takes an object of arguments")),
        };
        Ok(Self { op, object })
    }

    fn get(&self, key: &str) -> Option<&'a Json> {
        self.object.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    fn only(&self, allowed: &[&str]) -> Result<(), String> {
        match self.object.iter().find(|(k, _)| !allowed.contains(k)) {
            Some((k, _)) => Err(format!(
                "{}: unknown argument {k:?} (expected {})",
                self.op,
                allowed.join(", ")
            )),
            None => Ok(()),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{}: `{key}` must be a string", self.op)),
        }
    }

    fn int(&self, key: &str) -> Result<Option<i64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Json::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(_) => Err(format!("{}: `{key}` must be an integer", self.op)),
        }
    }

    fn name(&self, key: &str) -> Result<Option<String>, String> {
        let name = self.string(key)?;
        if let Some(name) = &name
            && !valid_name(name)
        {
            return Err(format!(
                "{}: bad variable name {name:?} (expected [a-z_][a-z0-9_]*)",
                self.op
            ));
        }
        Ok(name)
    }

    fn template(&self, key: &str) -> Result<Option<JsonTemplate>, String> {
        self.get(key).map(JsonTemplate::from_json).transpose()
    }
}

impl JsonTemplate {
    /// Reads a template from an ordered JSON value (what the YAML holds).
    pub fn from_json(value: &Json) -> Result<Self, String> {
        Ok(match value {
            Json::String(s) => Self::String(Template::parse(s)?),
            Json::Array(items) => Self::Array(
                items
                    .iter()
                    .map(Self::from_json)
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(object) => {
                let members: Vec<(&str, &Json)> = object.iter().collect();
                match members[..] {
                    [(op, args)] if op.starts_with('$') => {
                        Self::Computed(Box::new(Computed::parse(op, args)?))
                    }
                    _ => {
                        if let Some((k, _)) = members.iter().find(|(k, _)| k.starts_with('$')) {
                            return Err(format!(
                                "{k:?}: a computed field is an object with that single key"
                            ));
                        }
                        Self::Object(
                            members
                                .into_iter()
                                .map(|(k, v)| Ok((k.to_string(), Self::from_json(v)?)))
                                .collect::<Result<_, String>>()?,
                        )
                    }
                }
            }
            literal => Self::Literal(literal.clone()),
        })
    }

    /// Every template in the value (for checking variables when the scenario is loaded).
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = Vec::new();
        self.walk(&mut |t| match t {
            JsonTemplate::String(s) => out.push(s),
            JsonTemplate::Computed(c) => match c.as_ref() {
                Computed::Json(s) | Computed::Text { repeat: s, .. } => out.push(s),
                _ => {}
            },
            _ => {}
        });
        out
    }

    /// The variables the value's computed fields store (`as:`).
    pub fn stores(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut |t| {
            if let JsonTemplate::Computed(c) = t
                && let Some(name) = c.store()
            {
                out.push(name);
            }
        });
        out
    }

    fn walk<'a>(&'a self, visit: &mut dyn FnMut(&'a JsonTemplate)) {
        visit(self);
        match self {
            Self::Array(items) => items.iter().for_each(|t| t.walk(visit)),
            Self::Object(members) => members.iter().for_each(|(_, t)| t.walk(visit)),
            Self::Computed(c) => match c.as_ref() {
                Computed::MessageHash { of: Some(t), .. } | Computed::Sign { of: Some(t), .. } => {
                    t.walk(visit)
                }
                _ => {}
            },
            _ => {}
        }
    }
}

impl fmt::Display for JsonTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Literal(j) => write!(f, "{j}"),
            Self::String(t) => write!(f, "{:?}", t.as_str()),
            Self::Array(items) => {
                let items: Vec<String> = items.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", items.join(","))
            }
            Self::Object(members) => {
                let members: Vec<String> =
                    members.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
                write!(f, "{{{}}}", members.join(","))
            }
            Self::Computed(c) => f.write_str(c.name()),
        }
    }
}

impl<'de> Deserialize<'de> for JsonTemplate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Json::deserialize(deserializer)?;
        JsonTemplate::from_json(&value).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<JsonTemplate, String> {
        JsonTemplate::from_json(&Json::from_slice(text.as_bytes()).unwrap())
    }

    #[test]
    fn reads_values_and_computed_fields() {
        let t = parse(
            r#"{"meta":{"timestamp":{"$now":{"as":"ts"}},"hashcashToken":{"$hashcash":{"broken":"wrong_counter","as":"tok"}}},
               "sender":"{{mmtp_sender}}","content":{"subject":"s","body":{"$text":{"repeat":"x","times":3}}},
               "verification":{"messageHash":{"$message_hash":{}},"signature":{"$sign":{"key":"alice"}}}}"#,
        )
        .unwrap();
        assert_eq!(t.stores(), vec!["ts", "tok"]);
        let vars: Vec<&str> = t.templates().iter().flat_map(|t| t.variables()).collect();
        assert_eq!(vars, vec!["mmtp_sender"]);
        assert!(t.to_string().starts_with(r#"{"meta":{"timestamp":$now"#));
    }

    #[test]
    fn bad_computed_fields_are_errors() {
        for bad in [
            r#"{"$nope":{}}"#,
            r#"{"$now":{"offset":1}}"#,
            r#"{"$hashcash":{"broken":"tired"}}"#,
            r#"{"$sign":{}}"#,
            r#"{"$sign":{"key":"../x"}}"#,
            r#"{"$now":{"as":"Bad"}}"#,
            r#"{"$json":1}"#,
            r#"{"a":1,"$now":{}}"#,
            r#"{"$text":{"repeat":"x","times":-1}}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

//! An order-preserving JSON value and its compact text, written the way JavaScript's
//! `JSON.stringify` writes it.
//!
//! The messageHash and the OpenPGP signature of MMTP are computed over `JSON.stringify(content)`
//! in the original implementation, so the bytes hashed depend on key order and on how numbers
//! and strings are written. DESIGN settles the order ("the compact JSON of `content` in its
//! received key order"); this module keeps objects as ordered lists of members and writes
//! compact text with `JSON.stringify`'s escapes and number forms, so a hash computed here
//! equals the one a JavaScript peer computes over the same value.
//!
//! `serde_json`'s own map is sorted unless the workspace-wide `preserve_order` feature is on,
//! which would change other crates' output; hence this small type. The HTTP gateway reads its
//! request bodies with it too: a parsed object also remembers the keys the text gave twice
//! ([`Object::repeated_keys`]), which the gateway refuses and MMTP reads as `JSON.parse` does.

use std::fmt::{self, Write as _};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};

/// A JSON value whose objects keep their members in the order they were received.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number as parsed (`float_roundtrip`); written back in JavaScript's form.
    Number(serde_json::Number),
    /// A string, unescaped.
    String(String),
    /// An array, in order.
    Array(Vec<Json>),
    /// An object, its members in received order.
    Object(Object),
}

/// An object's members in order. Keys are unique: a duplicate key in the input replaces the
/// earlier value in the earlier position, as `JSON.parse` does, and is remembered in
/// [`Object::repeated_keys`]. Two objects are equal when their members are.
#[derive(Clone, Debug, Default)]
pub struct Object {
    members: Vec<(String, Json)>,
    /// Keys the parsed text gave more than once, in the order of the repeats.
    repeated: Vec<String>,
}

impl PartialEq for Object {
    fn eq(&self, other: &Self) -> bool {
        self.members == other.members
    }
}

impl Object {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of `key` for changing in place, if present.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        self.members
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Sets `key`, in place when present, at the end otherwise.
    pub fn insert(&mut self, key: impl Into<String>, value: Json) {
        let key = key.into();
        match self.get_mut(&key) {
            Some(slot) => *slot = value,
            None => self.members.push((key, value)),
        }
    }

    /// Removes `key`, keeping the others' order; returns its value, if it was present.
    pub fn remove(&mut self, key: &str) -> Option<Json> {
        let at = self.members.iter().position(|(k, _)| k == key)?;
        Some(self.members.remove(at).1)
    }

    /// The members in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json)> {
        self.members.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The members in order, as a slice.
    pub fn members(&self) -> &[(String, Json)] {
        &self.members
    }

    /// The keys the parsed text gave more than once (each repeat once, in document order);
    /// empty for an object built in code.
    pub fn repeated_keys(&self) -> &[String] {
        &self.repeated
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when the object has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl FromIterator<(String, Json)> for Object {
    fn from_iter<I: IntoIterator<Item = (String, Json)>>(iter: I) -> Self {
        let mut object = Object::new();
        for (k, v) in iter {
            object.insert(k, v);
        }
        object
    }
}

impl Json {
    /// Parses one JSON text (serde_json's grammar, UTF-8 checks and recursion limit).
    pub fn from_slice(bytes: &[u8]) -> Result<Json, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// "a string", "an array", ...: what the value is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// The members, when this is an object.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The members for changing in place, when this is an object.
    pub fn as_object_mut(&mut self) -> Option<&mut Object> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The text, when this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// `JSON.stringify(value)`: no whitespace, members in order.
    pub fn to_compact_string(&self) -> String {
        let mut out = String::new();
        self.write_compact(&mut out);
        out
    }

    fn write_compact(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => write_number(out, n),
            Json::String(s) => write_string(out, s),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_compact(out);
                }
                out.push(']');
            }
            Json::Object(object) => {
                out.push('{');
                for (i, (key, value)) in object.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, key);
                    out.push(':');
                    value.write_compact(out);
                }
                out.push('}');
            }
        }
    }
}

/// The compact `JSON.stringify` form.
impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_compact_string())
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Self {
        Json::String(s.to_owned())
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Self {
        Json::Bool(b)
    }
}

/// ECMA-262 `QuoteJSONString`: `"` and `\` escaped, the five short escapes, other control
/// characters as `\u00xx` (lowercase hex); everything else, `/` and non-ASCII included, as is.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// JavaScript numbers are doubles: integers beyond 2^53 lose precision, integral values print
/// without a fraction, and exponents are written `1e+21` / `1e-7` (ECMA-262
/// `Number::toString`, used for |x| < 1e-6 or |x| >= 1e21).
fn write_number(out: &mut String, n: &serde_json::Number) {
    const EXACT: u64 = 1 << 53;
    if let Some(u) = n.as_u64().filter(|u| *u <= EXACT) {
        let _ = write!(out, "{u}");
        return;
    }
    if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= EXACT) {
        let _ = write!(out, "{i}");
        return;
    }
    // Every other Number converts to a finite f64 (serde_json never holds NaN or infinity).
    let x = n.as_f64().unwrap_or(0.0);
    let _ = write!(out, "{}", JsNumber(x));
}

struct JsNumber(f64);

impl fmt::Display for JsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if !x.is_finite() {
            return f.write_str("null");
        }
        if x == 0.0 {
            return f.write_str("0"); // also -0
        }
        let abs = x.abs();
        if (1e-6..1e21).contains(&abs) {
            // Rust's Display is the shortest round-trip form without an exponent, as JS's.
            return write!(f, "{x}");
        }
        let text = format!("{x:e}");
        match text.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => write!(f, "{mantissa}e+{exp}"),
            _ => f.write_str(&text),
        }
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Only serde_json serializers are used with this type; RawValue carries the text
        // through them unchanged, so nested output keeps the JavaScript forms.
        let raw = serde_json::value::RawValue::from_string(self.to_compact_string())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Json, E> {
        Ok(Json::Number(u.into()))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Json, E> {
        Ok(Json::Number(i.into()))
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(x)
            .map(Json::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut object = Object::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            if object.get(&key).is_some() {
                object.repeated.push(key.clone());
            }
            object.insert(key, value);
        }
        Ok(Json::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn a_repeated_key_is_read_as_json_parse_reads_it_and_remembered() {
        let json = Json::from_slice(br#"{"b":1,"a":[true,null,"x"],"b":2.5}"#).unwrap();
        let object = json.as_object().unwrap();
        let keys: Vec<&str> = object.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["b", "a"], "the first position");
        assert_eq!(
            object.get("b").unwrap().to_compact_string(),
            "2.5",
            "the last value"
        );
        assert_eq!(object.repeated_keys(), ["b"]);
        assert_eq!(object.get("a").unwrap().kind(), "an array");
        let built: Object = [("b".to_string(), Json::Null)].into_iter().collect();
        assert!(built.repeated_keys().is_empty());
    }

    #[rstest]
    #[case(r#"{ "b" : 1, "a" : [ true, null ] }"#, r#"{"b":1,"a":[true,null]}"#)]
    #[case(r#"{"a":1,"b":2,"a":3}"#, r#"{"a":3,"b":2}"#)]
    #[case(r#""\u0041\/\u00e9\u0001\u007f""#, "\"A/é\\u0001\u{7f}\"")]
    #[case(r#""tab\there\nline\r\f\b""#, r#""tab\there\nline\r\f\b""#)]
    #[case(
        r#"[1.0, 100.0, -0, 0.5, 1e21, 1.5e-7, 1e-6, 123e18]"#,
        r#"[1,100,0,0.5,1e+21,1.5e-7,0.000001,123000000000000000000]"#
    )]
    #[case(
        r#"[9007199254740993, 12345678901234567890, -9007199254740993]"#,
        r#"[9007199254740992,12345678901234567000,-9007199254740992]"#
    )]
    #[case(
        r#"[1.7976931348623157e308, 5e-324]"#,
        r#"[1.7976931348623157e+308,5e-324]"#
    )]
    fn writes_what_json_stringify_writes(#[case] input: &str, #[case] expected: &str) {
        let value = Json::from_slice(input.as_bytes()).unwrap();
        assert_eq!(value.to_compact_string(), expected);
    }

    #[test]
    fn serializes_through_serde_json_unchanged() {
        let value = Json::from_slice(br#"{"z":1.0,"a":"x"}"#).unwrap();
        let wrapped = serde_json::to_string(&vec![value]).unwrap();
        assert_eq!(wrapped, r#"[{"z":1,"a":"x"}]"#);
    }

    #[test]
    fn object_edits_keep_positions() {
        let mut value = Json::from_slice(br#"{"a":1,"b":2,"c":3}"#).unwrap();
        let object = value.as_object_mut().unwrap();
        object.insert("b", Json::Bool(false));
        object.insert("d", Json::Null);
        object.remove("a");
        assert_eq!(value.to_compact_string(), r#"{"b":false,"c":3,"d":null}"#);
    }

    fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            "\\PC{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::vec(("[a-z\\u{e9}\"\\\\]{0,6}", inner), 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Compact text is a fixed point, whatever whitespace the value came with, and the
        /// hash of a value is the hash of its compact text.
        #[test]
        fn compact_form_round_trips(value in arbitrary_json()) {
            let pretty = serde_json::to_string_pretty(&value).unwrap();
            let parsed = Json::from_slice(pretty.as_bytes()).unwrap();
            let compact = parsed.to_compact_string();
            let reparsed = Json::from_slice(compact.as_bytes()).unwrap();
            proptest::prop_assert_eq!(reparsed.to_compact_string(), compact.clone());
            proptest::prop_assert_eq!(
                crate::mmtp::digest::message_hash(&parsed),
                crate::mmtp::digest::sha256_hex(compact.as_bytes())
            );
        }
    }

    #[test]
    fn refuses_what_json_refuses() {
        for bad in [
            &b"{"[..],
            b"1e400",
            b"\"\xff\"",
            b"[1,]",
            b"{'a':1}",
            b"\"\\ud800\"",
        ] {
            assert!(
                Json::from_slice(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(Json::from_slice(deep.as_bytes()).is_err());
    }
}

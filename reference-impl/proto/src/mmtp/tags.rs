//! Message tags (seed §8): processing on SEND, filters, counts and the category list.
//!
//! Seed §8.1: "Tags are organized into categories, each containing an array of values";
//! §8.2 lists the predefined categories and their values, with `custom` free; §8.3: "A
//! message matches a filter if it contains at least one tag from each specified category"
//! (AND across categories, OR within one).
//!
//! Decisions where the seed is silent (DESIGN: "unknown values of the predefined categories
//! dropped; `custom` free"): categories other than the four are dropped too, as are values that
//! are not strings and repeated values; a category left empty is omitted. In a filter, an
//! empty object or absent filter means no filter (DESIGN), but a category given an empty array
//! matches nothing (DESIGN: it is specified and no tag is in it); filter values are matched as
//! given, never normalised, so a filter for an unknown value matches nothing.

use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde::{Deserialize, Deserializer};

use super::json::{Json, Object};

/// The predefined categories and their values, in the seed's order. `custom` takes any string.
pub const CATEGORIES: [(&str, &[&str]); 4] = [
    ("priority", &["high", "medium", "low"]),
    (
        "category",
        &[
            "personal",
            "work",
            "finance",
            "social",
            "promotion",
            "coupon",
            "shop",
            "notification",
        ],
    ),
    (
        "status",
        &["urgent", "important", "information", "action_required"],
    ),
    ("custom", &[]),
];

/// The free category (seed §8.2: "User or application-defined tags"): any string is kept.
pub const CUSTOM: &str = "custom";

fn allowed(category: &str, value: &str) -> bool {
    match CATEGORIES.iter().find(|(name, _)| *name == category) {
        Some((name, _)) if *name == CUSTOM => true,
        Some((_, values)) => values.contains(&value),
        None => false,
    }
}

fn category_rank(category: &str) -> usize {
    CATEGORIES
        .iter()
        .position(|(name, _)| *name == category)
        .unwrap_or(CATEGORIES.len())
}

/// A message's tags after processing: known categories only, in the order the sender gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tags(Vec<(String, Vec<String>)>);

impl Tags {
    /// Processes `meta.tags` as sent. Anything that is not an object of arrays yields no tags:
    /// tags are an annotation, never a reason to refuse mail.
    pub fn process(value: Option<&Json>) -> Tags {
        let Some(Json::Object(object)) = value else {
            return Tags::default();
        };
        let mut tags = Vec::new();
        for (category, values) in object.iter() {
            let Json::Array(values) = values else {
                continue;
            };
            let mut kept: Vec<String> = Vec::new();
            for value in values.iter().filter_map(Json::as_str) {
                if allowed(category, value) && !kept.iter().any(|k| k == value) {
                    kept.push(value.to_owned());
                }
            }
            if !kept.is_empty() {
                tags.push((category.to_owned(), kept));
            }
        }
        Tags(tags)
    }

    /// The values kept for `category`; empty when it has none.
    pub fn get(&self, category: &str) -> &[String] {
        self.0
            .iter()
            .find(|(c, _)| c == category)
            .map_or(&[], |(_, v)| v.as_slice())
    }

    /// The categories with their values, in the order the sender gave.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(c, v)| (c.as_str(), v.as_slice()))
    }

    /// True when no category kept any value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The processed tags as `meta.tags`.
    pub fn to_json(&self) -> Json {
        Json::Object(
            self.0
                .iter()
                .map(|(c, values)| {
                    let values = values.iter().map(|v| Json::String(v.clone())).collect();
                    (c.clone(), Json::Array(values))
                })
                .collect(),
        )
    }
}

impl Serialize for Tags {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (category, values) in &self.0 {
            map.serialize_entry(category, values)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Tags {
    /// Reads tags back as they were stored (already processed); processes again anyway.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Json::deserialize(deserializer)?;
        Ok(Tags::process(Some(&json)))
    }
}

/// Why a `tagFilters` value is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagFilterError(pub String);

impl fmt::Display for TagFilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TagFilterError {}

/// A `tagFilters` value: for each category, the values any one of which must be present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagFilter(Vec<(String, Vec<String>)>);

impl TagFilter {
    /// Parses `tagFilters`; absent or `null` is no filter. It must otherwise be an object of
    /// arrays of strings (seed §6.3 types it `Object`, §8.3 shows arrays).
    pub fn parse(value: Option<&Json>) -> Result<TagFilter, TagFilterError> {
        let object = match value {
            None | Some(Json::Null) => return Ok(TagFilter::default()),
            Some(Json::Object(object)) => object,
            Some(_) => return Err(TagFilterError("tagFilters must be an object".into())),
        };
        let mut filter = Vec::new();
        for (category, values) in object.iter() {
            let Json::Array(values) = values else {
                return Err(TagFilterError(format!(
                    "tagFilters.{category} must be an array of strings"
                )));
            };
            let values = values
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    TagFilterError(format!("tagFilters.{category} must be an array of strings"))
                })?;
            // Seed §8.3: "A message matches a filter if it contains at least one tag from each
            // specified category": a category given `[]` is specified, and no tag is in it,
            // so it matches nothing (as the original server does).
            filter.push((category.to_owned(), values));
        }
        Ok(TagFilter(filter))
    }

    /// No constraint at all: every message matches.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Seed §8.3: true when, for every category in the filter, the message has one of its values
    /// (a category given `[]` matches nothing).
    pub fn matches(&self, tags: &Tags) -> bool {
        self.0.iter().all(|(category, wanted)| {
            let have = tags.get(category);
            wanted.iter().any(|w| have.contains(w))
        })
    }
}

/// `tagCounts` of a CHECK: how many messages carry each tag, per category. Categories come in
/// the seed's order, values in the order first seen, so the output is deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagCounts(Vec<(String, Vec<(String, u64)>)>);

impl TagCounts {
    /// Counts the tags of `messages`: per category, per value, the number of messages carrying it.
    pub fn count<'a>(messages: impl IntoIterator<Item = &'a Tags>) -> TagCounts {
        let mut counts: Vec<(String, Vec<(String, u64)>)> = Vec::new();
        for tags in messages {
            for (category, values) in tags.iter() {
                let at = match counts.iter().position(|(c, _)| c == category) {
                    Some(at) => at,
                    None => {
                        counts.push((category.to_owned(), Vec::new()));
                        counts.len() - 1
                    }
                };
                let per_value = &mut counts[at].1;
                for value in values {
                    match per_value.iter_mut().find(|(v, _)| v == value) {
                        Some((_, n)) => *n += 1,
                        None => per_value.push((value.clone(), 1)),
                    }
                }
            }
        }
        counts.sort_by_key(|(c, _)| category_rank(c));
        TagCounts(counts)
    }
}

impl Serialize for TagCounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (category, values) in &self.0 {
            map.serialize_entry(category, &OrderedCounts(values))?;
        }
        map.end()
    }
}

struct OrderedCounts<'a>(&'a [(String, u64)]);

impl Serialize for OrderedCounts<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (value, n) in self.0 {
            map.serialize_entry(value, n)?;
        }
        map.end()
    }
}

/// `tagCategories` of GET_TAG_CATEGORIES: each category with its values (`custom` empty).
pub fn categories_json() -> Json {
    let object: Object = CATEGORIES
        .iter()
        .map(|(name, values)| {
            let values = values.iter().map(|v| Json::from(*v)).collect();
            ((*name).to_owned(), Json::Array(values))
        })
        .collect();
    Json::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Json {
        Json::from_slice(text.as_bytes()).unwrap()
    }

    fn tags(text: &str) -> Tags {
        Tags::process(Some(&json(text)))
    }

    fn filter(text: &str) -> TagFilter {
        TagFilter::parse(Some(&json(text))).unwrap()
    }

    #[test]
    fn processing_drops_what_is_not_a_known_tag() {
        let t = tags(
            r#"{"status":["urgent","sleepy",3,"urgent"],"priority":["high"],"colour":["red"],
               "custom":["anything goes","x"],"category":"work","empty":[]}"#,
        );
        assert_eq!(
            t.to_json().to_compact_string(),
            r#"{"status":["urgent"],"priority":["high"],"custom":["anything goes","x"]}"#
        );
        assert!(tags(r#"["high"]"#).is_empty());
        assert!(Tags::process(None).is_empty());
    }

    #[test]
    fn filters_and_across_categories_or_within() {
        let promo_high = tags(r#"{"category":["promotion"],"priority":["high"]}"#);
        let coupon_low = tags(r#"{"category":["coupon"],"priority":["low"]}"#);
        let untagged = Tags::default();
        let f = filter(r#"{"category":["promotion","coupon"],"priority":["high"]}"#);
        assert!(f.matches(&promo_high));
        assert!(!f.matches(&coupon_low));
        assert!(!f.matches(&untagged));
        let or = filter(r#"{"category":["promotion","coupon"]}"#);
        assert!(or.matches(&promo_high) && or.matches(&coupon_low));
    }

    #[test]
    fn empty_filters_match_everything() {
        for text in ["{}", "null"] {
            let f = filter(text);
            assert!(f.is_empty(), "{text}");
            assert!(f.matches(&Tags::default()));
        }
        assert!(TagFilter::parse(None).unwrap().is_empty());
    }

    #[test]
    fn an_empty_category_matches_nothing() {
        let f = filter(r#"{"priority":[]}"#);
        assert!(!f.is_empty());
        assert!(!f.matches(&tags(r#"{"priority":["low"]}"#)));
        assert!(!f.matches(&Tags::default()));
    }

    #[test]
    fn unknown_filter_values_match_nothing() {
        let f = filter(r#"{"priority":["urgent"]}"#);
        assert!(!f.matches(&tags(r#"{"priority":["high"],"status":["urgent"]}"#)));
        let custom = filter(r#"{"custom":["project-x"]}"#);
        assert!(custom.matches(&tags(r#"{"custom":["project-x"]}"#)));
    }

    #[test]
    fn malformed_filters_are_errors() {
        for text in [
            r#""high""#,
            r#"{"priority":"high"}"#,
            r#"{"priority":[1]}"#,
            "[]",
        ] {
            assert!(TagFilter::parse(Some(&json(text))).is_err(), "{text}");
        }
    }

    #[test]
    fn counts_are_ordered() {
        let messages = [
            tags(r#"{"custom":["b"],"priority":["high"]}"#),
            tags(r#"{"priority":["low","high"]}"#),
            Tags::default(),
        ];
        let counts = serde_json::to_string(&TagCounts::count(&messages)).unwrap();
        assert_eq!(
            counts,
            r#"{"priority":{"high":2,"low":1},"custom":{"b":1}}"#
        );
    }

    #[test]
    fn tags_round_trip_through_serde() {
        let t = tags(r#"{"priority":["high"],"custom":["z","a"]}"#);
        let text = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Tags>(&text).unwrap(), t);
    }

    #[test]
    fn the_category_list() {
        let list = categories_json().to_compact_string();
        assert!(list.starts_with(r#"{"priority":["high","medium","low"],"category":["personal""#));
        assert!(list.ends_with(r#""custom":[]}"#));
    }
}

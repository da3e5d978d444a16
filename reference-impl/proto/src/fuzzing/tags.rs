//! `tags`: tag processing, filters and counts against a simple model.
//!
//! Seed §8.3: "A message matches a filter if it contains at least one tag from each specified
//! category" (AND across categories, OR within one). The fuzzer builds `meta.tags` of a few
//! messages and one `tagFilters` from a small vocabulary (known and unknown categories and
//! values, non-strings, repeats, empty arrays); the model below restates the rules of
//! `mmtp::tags` naively, and processing, matching and counting must agree with it.

use super::choices::Choices;
use crate::mmtp::json::{Json, Object};
use crate::mmtp::tags::{CATEGORIES, CUSTOM, TagCounts, TagFilter, Tags};

const CATEGORY_NAMES: [&str; 6] = ["priority", "category", "status", "custom", "colour", ""];

const VALUES: [&str; 9] = [
    "high",
    "low",
    "work",
    "finance",
    "urgent",
    "action_required",
    "anything",
    "HIGH",
    "",
];

fn value(c: &mut Choices<'_>) -> Json {
    match c.below(12) {
        0 => Json::Null,
        1 => Json::Number(c.byte().into()),
        2 => Json::Array(vec![]),
        _ => Json::from(c.pick(&VALUES)),
    }
}

/// An object of categories; most values are arrays.
fn object(c: &mut Choices<'_>) -> Json {
    let mut object = Object::new();
    for _ in 0..c.below(5) {
        let category = c.pick(&CATEGORY_NAMES);
        let values = if c.below(8) == 0 {
            value(c)
        } else {
            Json::Array((0..c.below(4)).map(|_| value(c)).collect())
        };
        object.insert(category, values);
    }
    Json::Object(object)
}

pub fn tags(data: &[u8]) {
    let mut c = Choices::new(data);
    let messages: Vec<Json> = (0..c.below(4)).map(|_| object(&mut c)).collect();
    let filter_json = match c.below(6) {
        0 => None,
        1 => Some(Json::Null),
        2 => Some(value(&mut c)),
        _ => Some(object(&mut c)),
    };
    let processed: Vec<Tags> = messages.iter().map(|m| Tags::process(Some(m))).collect();
    for (raw, tags) in messages.iter().zip(&processed) {
        assert_eq!(as_model(tags), model_process(raw), "processing {raw}");
        assert_eq!(&Tags::process(Some(&tags.to_json())), tags, "idempotent");
    }
    match (
        TagFilter::parse(filter_json.as_ref()),
        model_filter(filter_json.as_ref()),
    ) {
        (Ok(filter), Some(model)) => {
            assert_eq!(filter.is_empty(), model.is_empty());
            for tags in &processed {
                assert_eq!(filter.matches(tags), model_matches(&model, &as_model(tags)));
            }
        }
        (Err(_), None) => {}
        (got, want) => panic!("filter {filter_json:?}: parsed {got:?}, model {want:?}"),
    }
    check_counts(&processed);
}

type Model = Vec<(String, Vec<String>)>;

fn as_model(tags: &Tags) -> Model {
    tags.iter()
        .map(|(c, v)| (c.to_string(), v.to_vec()))
        .collect()
}

/// Known categories only; predefined ones keep their listed values, `custom` any string;
/// non-strings and repeats dropped; empty categories omitted.
fn model_process(raw: &Json) -> Model {
    let Json::Object(object) = raw else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (category, values) in object.iter() {
        let Some((_, allowed)) = CATEGORIES.iter().find(|(name, _)| *name == category) else {
            continue;
        };
        let Json::Array(values) = values else {
            continue;
        };
        let mut kept: Vec<String> = Vec::new();
        for v in values {
            if let Json::String(s) = v {
                let ok = category == CUSTOM || allowed.contains(&s.as_str());
                if ok && !kept.contains(s) {
                    kept.push(s.clone());
                }
            }
        }
        if !kept.is_empty() {
            out.push((category.to_string(), kept));
        }
    }
    out
}

/// `None` when the filter must be refused; categories with no value ask nothing.
fn model_filter(raw: Option<&Json>) -> Option<Model> {
    let object = match raw {
        None | Some(Json::Null) => return Some(Vec::new()),
        Some(Json::Object(object)) => object,
        Some(_) => return None,
    };
    let mut out = Vec::new();
    for (category, values) in object.iter() {
        let Json::Array(values) = values else {
            return None;
        };
        let strings: Vec<String> = values
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()?;
        // Seed §8.3: a category given `[]` is specified, and no tag is in it.
        out.push((category.to_string(), strings));
    }
    Some(out)
}

fn model_matches(filter: &Model, tags: &Model) -> bool {
    filter.iter().all(|(category, wanted)| {
        tags.iter()
            .any(|(c, have)| c == category && wanted.iter().any(|w| have.contains(w)))
    })
}

/// Each count is the number of messages carrying that tag, and every tag carried is counted.
fn check_counts(processed: &[Tags]) {
    let counts = serde_json::to_value(TagCounts::count(processed)).expect("counts serialize");
    let count = |category: &str, value: &str| counts.get(category)?.get(value)?.as_u64();
    for tags in processed {
        for (category, values) in tags.iter() {
            for value in values {
                let carrying = processed
                    .iter()
                    .filter(|t| t.get(category).contains(value))
                    .count() as u64;
                assert_eq!(count(category, value), Some(carrying), "{category}.{value}");
            }
        }
    }
    let serde_json::Value::Object(categories) = &counts else {
        panic!("tagCounts is an object");
    };
    for (category, values) in categories {
        let total: u64 = values
            .as_object()
            .expect("tagCounts.<category> is an object")
            .values()
            .filter_map(serde_json::Value::as_u64)
            .sum();
        let carried: usize = processed.iter().map(|t| t.get(category).len()).sum();
        assert_eq!(
            total, carried as u64,
            "tagCounts.{category} counts only what is carried"
        );
    }
}

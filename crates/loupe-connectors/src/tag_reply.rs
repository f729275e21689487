//! Reading a vision-language model's answer to "which of these tags apply", strictly:
//! JSON only (a ```json fence around it is tolerated, prose is not), names matched to
//! the definition without regard to case, and names the definition lacks dropped and
//! counted, never kept.

use std::collections::BTreeMap;

use loupe_core::model::{Tag, TagSpec, Tagging};
use serde_json::Value;

use crate::http::truncate;

/// Parses a reply: a JSON array of names or of `{"name", "confidence"}` objects, an
/// object `{"tags": [..]}`, or an object `{name: confidence}`.
pub fn parse_tags(reply: &str, spec: &TagSpec) -> Result<Tagging, String> {
    let text = unfence(reply.trim());
    let value: Value = serde_json::from_str(text).map_err(|_| {
        format!(
            "the model answered with prose instead of JSON: '{}'",
            truncate(reply.trim(), 120)
        )
    })?;
    let named = named_tags(&value)?;
    let defined: BTreeMap<String, &String> = spec
        .tags
        .keys()
        .map(|name| (name.to_lowercase(), name))
        .collect();
    let mut tagging = Tagging::default();
    for (name, confidence) in named {
        let Some(canonical) = defined.get(&name.trim().to_lowercase()) else {
            tagging.undefined_dropped += 1;
            continue;
        };
        match tagging.tags.iter_mut().find(|t| &t.name == *canonical) {
            // The same tag twice: keep it once, with the higher confidence.
            Some(seen) => {
                seen.confidence = match (seen.confidence, confidence) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                }
            }
            None => tagging.tags.push(Tag {
                name: (*canonical).clone(),
                confidence,
            }),
        }
    }
    Ok(tagging)
}

/// The inside of a Markdown code fence that wraps the whole reply, if one does.
fn unfence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let Some(body) = rest.strip_suffix("```") else {
        return text;
    };
    let body = body.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    body.trim()
}

type Named = Vec<(String, Option<f32>)>;

fn named_tags(value: &Value) -> Result<Named, String> {
    match value {
        Value::Array(items) => items.iter().map(one_tag).collect(),
        Value::Object(map) => match map.get("tags") {
            // Other keys beside `tags` (a "reason", say) are ignored.
            Some(Value::Array(items)) => items.iter().map(one_tag).collect(),
            Some(_) => Err(shape_error()),
            None => map
                .iter()
                .map(|(name, c)| Ok((name.clone(), confidence(name, Some(c))?)))
                .collect(),
        },
        _ => Err(shape_error()),
    }
}

fn one_tag(item: &Value) -> Result<(String, Option<f32>), String> {
    match item {
        Value::String(name) => Ok((name.clone(), None)),
        Value::Object(map) => {
            let name = map
                .get("name")
                .or_else(|| map.get("tag"))
                .and_then(Value::as_str)
                .ok_or_else(shape_error)?;
            Ok((name.to_string(), confidence(name, map.get("confidence"))?))
        }
        _ => Err(shape_error()),
    }
}

fn confidence(name: &str, value: Option<&Value>) -> Result<Option<f32>, String> {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(true)) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(c) if (0.0..=1.0).contains(&c) => Ok(Some(c as f32)),
            _ => Err(format!(
                "the model gave tag '{name}' the confidence {n}, outside 0 to 1"
            )),
        },
        Some(other) => Err(format!(
            "the model gave tag '{name}' the confidence {other}, which is not a number"
        )),
    }
}

fn shape_error() -> String {
    "the model's JSON is not a list of tag names, {\"tags\": [..]} or {name: confidence}".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TagSpec {
        TagSpec {
            prompt: "tag the road scene".into(),
            tags: [
                ("Car", "a car"),
                ("person", "a person"),
                ("traffic cone", "a cone"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        }
    }

    fn names(t: &Tagging) -> Vec<(&str, Option<f32>)> {
        t.tags
            .iter()
            .map(|t| (t.name.as_str(), t.confidence))
            .collect()
    }

    #[test]
    fn accepts_every_json_shape_and_matches_names_without_case() {
        for reply in [
            r#"["car", "PERSON"]"#,
            r#"{"tags": ["Car", "person"]}"#,
            r#"{"tags": [{"name": "car"}, {"tag": "Person"}]}"#,
            "```json\n[\"car\", \"person\"]\n```",
            "```\n{\"car\": true, \"person\": null}\n```",
        ] {
            let got = parse_tags(reply, &spec()).expect(reply);
            assert_eq!(
                names(&got),
                vec![("Car", None), ("person", None)],
                "{reply}"
            );
            assert_eq!(got.undefined_dropped, 0);
        }
        let got = parse_tags(r#"{"car": 0.9, "traffic cone": 0.25}"#, &spec()).unwrap();
        assert_eq!(
            names(&got),
            vec![("Car", Some(0.9)), ("traffic cone", Some(0.25))]
        );
    }

    #[test]
    fn drops_and_counts_undefined_names_and_merges_repeats() {
        let got = parse_tags(
            r#"[{"name": "car", "confidence": 0.4}, {"name": "CAR", "confidence": 0.8}, "dog", "sky"]"#,
            &spec(),
        )
        .unwrap();
        assert_eq!(names(&got), vec![("Car", Some(0.8))]);
        assert_eq!(got.undefined_dropped, 2);
        assert_eq!(parse_tags("[]", &spec()).unwrap(), Tagging::default());
    }

    #[test]
    fn refuses_prose_and_wrong_shapes() {
        for (reply, needle) in [
            ("The image shows a car.", "prose instead of JSON"),
            ("Sure! ```json\n[\"car\"]\n```", "prose instead of JSON"),
            ("\"car\"", "not a list of tag names"),
            (r#"{"tags": "car"}"#, "not a list of tag names"),
            (r#"[1, 2]"#, "not a list of tag names"),
            (r#"[{"name": "car", "confidence": 7}]"#, "outside 0 to 1"),
            (r#"{"car": "high"}"#, "not a number"),
        ] {
            let err = parse_tags(reply, &spec()).expect_err(reply);
            assert!(err.contains(needle), "{reply}: {err}");
        }
    }
}

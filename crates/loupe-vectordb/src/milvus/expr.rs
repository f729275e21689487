//! Milvus names and boolean expressions built from Loupe's ids.
//!
//! Ids reach Milvus inside expression text (`index_set_id == "…"`), so every string is
//! quoted here and nowhere else: `"` and `\` are escaped, and so are the line breaks and
//! tabs that Milvus's grammar does not accept raw. The escapes used (`\" \\ \n \r \t`)
//! are the ones both Milvus's own parser and milvus-lite's accept.

/// The most characters Milvus allows in a collection name.
const MAX_NAME: usize = 255;

/// A Milvus string literal holding `value` exactly.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The filter selecting an index set, narrowed to some file metas when given.
/// Callers handle an empty `file_meta_ids` themselves: `in []` selects nothing, and
/// saying so without a request is cheaper.
pub fn set_filter(index_set_id: &str, file_meta_ids: Option<&[String]>) -> String {
    let mut expr = format!("index_set_id == {}", quote(index_set_id));
    if let Some(ids) = file_meta_ids {
        let quoted: Vec<String> = ids.iter().map(|id| quote(id)).collect();
        expr.push_str(" and file_meta_id in [");
        expr.push_str(&quoted.join(", "));
        expr.push(']');
    }
    expr
}

/// The collection that holds index `index`.
///
/// Milvus names are letters, digits and `_`, start with a letter or `_`, and have at
/// most 255 characters. A name that already follows those rules is used as it is, so a
/// collection created beforehand under the index's name is found. Any other name has
/// each other character replaced by `_`, gets a leading `_` when it starts with a digit,
/// and ends in `_` plus 16 hex digits of a hash of the original name, so that `a-b` and
/// `a_b` (or two long names with one prefix) never share a collection.
pub fn collection_name(index: &str) -> String {
    let valid = !index.is_empty()
        && index.len() <= MAX_NAME
        && index.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && index.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        return index.to_string();
    }
    let suffix = format!("_{:016x}", fnv1a(index.as_bytes()));
    let mut name: String = index
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        name.insert(0, '_');
    }
    // Only ASCII is left, so byte truncation cannot split a character.
    name.truncate(MAX_NAME - suffix.len());
    name.push_str(&suffix);
    debug_assert!(name.len() <= MAX_NAME);
    name
}

/// FNV-1a, 64 bits: stable across Rust versions and machines, unlike `DefaultHasher`,
/// which matters because the hash is part of a stored collection's name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_escape_what_would_end_or_break_the_literal() {
        assert_eq!(quote("plain-id_1"), r#""plain-id_1""#);
        assert_eq!(quote(r#"a"b"#), r#""a\"b""#);
        assert_eq!(quote(r"a\b"), r#""a\\b""#);
        assert_eq!(quote("a\\\"b"), r#""a\\\"b""#);
        assert_eq!(quote("line\nbreak\r\ttab"), r#""line\nbreak\r\ttab""#);
        assert_eq!(quote("it's ünïcode"), "\"it's ünïcode\"");
        // An injection attempt stays one literal: the quote it carries is escaped.
        assert_eq!(
            quote(r#"x" or index_set_id != "y"#),
            r#""x\" or index_set_id != \"y""#
        );
    }

    #[test]
    fn set_filter_is_the_set_alone_or_the_set_and_its_files() {
        assert_eq!(set_filter("s1", None), r#"index_set_id == "s1""#);
        let files = ["f-1".to_string(), r#"f"2"#.to_string()];
        assert_eq!(
            set_filter(r"s\1", Some(&files)),
            r#"index_set_id == "s\\1" and file_meta_id in ["f-1", "f\"2"]"#
        );
    }

    #[test]
    fn valid_names_are_kept_and_others_are_mapped_without_collisions() {
        assert_eq!(collection_name("loupe_clip_512"), "loupe_clip_512");
        assert_eq!(collection_name("_x9"), "_x9");
        let dashed = collection_name("clip-vit-b32");
        assert!(dashed.starts_with("clip_vit_b32_"), "{dashed}");
        assert_ne!(dashed, collection_name("clip_vit_b32"));
        assert_ne!(dashed, collection_name("clip.vit.b32"));
        let digit = collection_name("9lives");
        assert!(digit.starts_with("_9lives_"), "{digit}");
        let long = "n".repeat(300);
        let mapped = collection_name(&long);
        assert_eq!(mapped.len(), 255);
        assert_ne!(mapped, collection_name(&"n".repeat(301)));
        assert_eq!(
            collection_name("é"),
            format!("__{:016x}", fnv1a("é".as_bytes()))
        );
        assert_eq!(collection_name("clip-vit-b32"), dashed, "stable");
        for name in [dashed, digit, mapped, collection_name("")] {
            assert!(name.len() <= 255);
            assert!(name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'));
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        }
    }
}

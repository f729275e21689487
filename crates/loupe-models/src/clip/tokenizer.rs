//! CLIP's byte-level BPE tokenizer: the folder's `tokenizer.json`, or, for folders that
//! only have the slow tokenizer's `vocab.json` and `merges.txt`, the same pipeline that
//! transformers' `CLIPConverter` builds from them (NFC, whitespace runs to one space,
//! lowercase; CLIP's word regex; byte-level BPE with `</w>` word ends; start and end
//! tokens around every text).

use std::collections::HashMap;
use std::path::Path;

use serde_json::json;
use tokenizers::{Tokenizer, TruncationParams};

const START: &str = "<|startoftext|>";
const END: &str = "<|endoftext|>";
/// CLIP's word pattern (`CLIPTokenizer.pat`).
const WORDS: &str =
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

/// Loads the folder's tokenizer and truncates at `max_tokens` (start and end included),
/// as the tokenizer's `model_max_length` does in transformers.
pub fn load(dir: &Path, max_tokens: usize) -> Result<Tokenizer, String> {
    let json = dir.join("tokenizer.json");
    let mut tokenizer = if json.is_file() {
        Tokenizer::from_file(&json).map_err(|e| format!("tokenizer.json: {e}"))?
    } else {
        from_vocab_and_merges(dir)?
    };
    // Padding is ours: the text tower is causal, so padding after the end token changes
    // nothing, and the end token's position is known from each text's own length.
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            ..TruncationParams::default()
        }))
        .map_err(|e| format!("tokenizer truncation: {e}"))?;
    Ok(tokenizer)
}

fn from_vocab_and_merges(dir: &Path) -> Result<Tokenizer, String> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).map_err(|e| {
            format!("no tokenizer.json, and {name} cannot be read ({e}): the folder needs tokenizer.json or vocab.json and merges.txt")
        })
    };
    let vocab: HashMap<String, u32> =
        serde_json::from_str(&read("vocab.json")?).map_err(|e| format!("vocab.json: {e}"))?;
    // The first line is a version header, as CLIPTokenizer skips it.
    let merges: Vec<String> = read("merges.txt")?
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let id = |token: &str| {
        vocab
            .get(token)
            .copied()
            .ok_or_else(|| format!("vocab.json has no {token}"))
    };
    let (start, end) = (id(START)?, id(END)?);
    let special = |id: u32, content: &str| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    let spec = json!({
        "version": "1.0",
        "added_tokens": [special(start, START), special(end, END)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "},
            {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": WORDS}, "behavior": "Removed", "invert": true},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}]},
        "post_processor": {"type": "RobertaProcessing", "sep": [END, end], "cls": [START, start],
                           "trim_offsets": false, "add_prefix_space": false},
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": END, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "</w>", "fuse_unk": false, "byte_fallback": false,
                  "ignore_merges": false,
                  "vocab": vocab, "merges": merges}
    });
    spec.to_string()
        .parse::<Tokenizer>()
        .map_err(|e| format!("building the tokenizer from vocab.json and merges.txt: {e}"))
}

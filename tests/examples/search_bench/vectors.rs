//! Writes one vector per generated file into the dataset's index, as a `SemanticIndex`
//! job would: through the `IndexTarget` of the dataset's `IndexConfig`, with the job's
//! record ids, in the version's index set. The vectors cluster around the embedding,
//! by the index's own model, of each file's two most frequent tags.

use loupe_core::model::EmbedInput;
use loupe_core::service::IndexTarget;
use loupe_core::vector::VectorRecord;

use crate::data::{clustered, tag_name, File, Rng, VOCABULARY};

/// Records per upsert: each becomes one segment, and 20 stay under the store's
/// compaction threshold, so a million vectors are written once.
const BATCH: usize = 50_000;

/// The model's embedding of every tag name, by vocabulary rank.
pub async fn tag_embeddings(target: &IndexTarget) -> Vec<Vec<f32>> {
    let mut out = Vec::with_capacity(VOCABULARY);
    let names: Vec<String> = (0..VOCABULARY).map(tag_name).collect();
    for chunk in names.chunks(32) {
        let inputs: Vec<EmbedInput> = chunk.iter().cloned().map(EmbedInput::Text).collect();
        out.extend(
            target
                .embedder
                .embed(&inputs)
                .await
                .expect("embed tag names"),
        );
    }
    out
}

/// Writes the vectors of every file; `uri_prefix` + key is a file's URI.
pub async fn write(
    target: &IndexTarget,
    set: &str,
    dataset: &str,
    uri_prefix: &str,
    files: &[File],
    seed: u64,
) {
    target.ensure().await.expect("ensure the index");
    let centroids = tag_embeddings(target).await;
    let dim = target.embedder.dim();
    let mut rng = Rng::new(seed);
    for chunk in files.chunks(BATCH) {
        let records: Vec<VectorRecord> = chunk
            .iter()
            .map(|f| {
                let mut v = vec![0.0; dim];
                clustered(&mut rng, &centroids[f.ai[0]], &centroids[f.ai[1]], &mut v);
                VectorRecord {
                    id: format!("{set}/{}", f.file_id),
                    index_set_id: set.to_string(),
                    file_meta_id: f.file_id.clone(),
                    dataset_id: dataset.to_string(),
                    dataset_version: "v1".to_string(),
                    uri: format!("{uri_prefix}{}", f.key),
                    file_vector: v,
                }
            })
            .collect();
        target
            .vectors
            .upsert(&target.index, &records)
            .await
            .expect("upsert vectors");
    }
}

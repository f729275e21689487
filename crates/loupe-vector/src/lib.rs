//! Vector search for Loupe: the dot-product kernel (the product's hot path), bounded
//! top-k selection, and exact search over a flat matrix, for one query or a batch that
//! shares one pass over memory, optionally limited to a candidate set (the reranker
//! that search uses after SQL filters).
//!
//! This is the start of the embedded store; segment files, quantisation and the server
//! adapters come with the rest of the vector-store work.

#[cfg(feature = "testing")]
pub mod conformance;
pub mod embedded;
pub mod kernel;
pub mod quant;
pub mod scan;
pub mod segment;
pub mod topk;

pub use embedded::{EmbeddedOptions, EmbeddedVectorStore, Quantization};
pub use kernel::dot;
pub use topk::{Hit, TopK};

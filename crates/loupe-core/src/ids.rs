//! Typed identifiers. Ids are random, prefixed by their kind (`ws-`, `d-`, `ak-`), so a
//! dataset id can never be passed where a key id is expected and ids reveal no counts.

use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};

/// Length of the random part of an id.
const RANDOM_LEN: usize = 20;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A new random id.
            pub fn generate() -> Self {
                let random = Alphanumeric.sample_string(&mut rand::thread_rng(), RANDOM_LEN);
                Self(format!("{}{}", $prefix, random.to_ascii_lowercase()))
            }

            /// Wraps an id read from storage or from a request path. Unknown ids simply
            /// match nothing, so no validation is needed here.
            pub fn from_raw(raw: impl Into<String>) -> Self {
                Self(raw.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// Identifies a workspace (a tenant).
    WorkspaceId,
    "ws-"
);
id_type!(
    /// Identifies a dataset.
    DatasetId,
    "d-"
);
id_type!(
    /// Identifies an API key (not the secret token itself).
    ApiKeyId,
    "ak-"
);
id_type!(
    /// Identifies a dataset job.
    JobId,
    "dsjob-"
);
id_type!(
    /// Identifies a connection.
    ConnectionId,
    "conn-"
);
id_type!(
    /// Identifies a tag definition.
    TagDefinitionId,
    "tagdef-"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_carry_their_prefix_and_differ() {
        let a = DatasetId::generate();
        let b = DatasetId::generate();
        assert!(a.as_str().starts_with("d-"));
        assert_eq!(a.as_str().len(), 2 + RANDOM_LEN);
        assert_ne!(a, b);
    }
}

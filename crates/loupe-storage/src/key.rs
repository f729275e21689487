//! Key validation shared by every backend.

use crate::StorageError;

/// Checks that `key` is a plain relative object key: not empty, not absolute, no `.` or `..` segment, no
/// backslash and no NUL. Such keys could step out of a dataset's prefix or root folder, so every backend
/// refuses them before doing any I/O.
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    let refuse = |reason: &str| {
        Err(StorageError::InvalidKey {
            key: key.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if key.is_empty() {
        return refuse("key is empty");
    }
    if key.starts_with('/') {
        return refuse("key is absolute");
    }
    if key.contains('\\') {
        return refuse("key contains a backslash");
    }
    if key.contains('\0') {
        return refuse("key contains a nul byte");
    }
    if key
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
    {
        return refuse("key contains a '.' or '..' segment");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys_are_accepted() {
        for key in ["a", "a/b.jpg", "deep/er/x.png", "..hidden", "a..b/c", ".x"] {
            assert!(validate_key(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn escaping_keys_are_refused() {
        for key in [
            "",
            ".",
            "..",
            "../x",
            "a/../../x",
            "a/./b",
            "a/..",
            "/etc/passwd",
            "a\\b",
            "a\0b",
        ] {
            let err = validate_key(key).expect_err(key);
            assert!(
                matches!(err, StorageError::InvalidKey { .. }),
                "{key}: {err}"
            );
        }
    }
}

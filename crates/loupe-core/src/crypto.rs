//! Secrets at rest and signed links, both keyed by the server's master key.
//!
//! Connection secrets are sealed with AES-256-GCM under a random 96-bit nonce, with the
//! connection's id and workspace as associated data: a sealed blob copied to another
//! row, or another tenant, does not open. Download and thumbnail links are signed with
//! HMAC-SHA256 under a key derived from the master key, so the master key itself never
//! signs anything that leaves the server.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::{Error, Result};

const NONCE_LEN: usize = 12;

/// Seals and opens connection secrets, and signs links.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    signing_key: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

impl SecretBox {
    /// From the 32-byte master key.
    pub fn new(master_key: &[u8; 32]) -> Self {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(master_key).expect("hmac takes any key length");
        mac.update(b"loupe link signing v1");
        let signing_key: [u8; 32] = mac.finalize().into_bytes().into();
        Self {
            cipher: Aes256Gcm::new(master_key.into()),
            signing_key,
        }
    }

    /// Encrypts `plain`, bound to `context` (e.g. workspace and connection id).
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::internal("sealing secrets", "aes-gcm encryption failed"))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// Decrypts what [`SecretBox::seal`] made for the same context.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return Err(Error::internal(
                "opening secrets",
                "sealed secrets are truncated",
            ));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| {
                Error::internal(
                    "opening secrets",
                    "secrets do not open: wrong master key (LOUPE_MASTER_KEY_FILE) or tampered row",
                )
            })
    }

    /// A hex HMAC of `message`, for signed links.
    pub fn sign(&self, message: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.signing_key).expect("any key length");
        mac.update(message.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Checks a signature in constant time.
    pub fn verify(&self, message: &str, signature: &str) -> bool {
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.signing_key).expect("any key length");
        mac.update(message.as_bytes());
        mac.verify_slice(&bytes).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_in_their_context() {
        let secrets = SecretBox::new(&[7; 32]);
        let sealed = secrets.seal(b"sk-secret", "ws-a/conn-1").unwrap();
        assert!(!sealed.windows(9).any(|w| w == b"sk-secret"));
        assert_eq!(secrets.open(&sealed, "ws-a/conn-1").unwrap(), b"sk-secret");
        assert!(secrets.open(&sealed, "ws-b/conn-1").is_err());
        assert!(SecretBox::new(&[8; 32])
            .open(&sealed, "ws-a/conn-1")
            .is_err());
    }

    #[test]
    fn signatures_verify_only_for_the_signed_message() {
        let secrets = SecretBox::new(&[1; 32]);
        let sig = secrets.sign("d-1/v1/abc?exp=10");
        assert!(secrets.verify("d-1/v1/abc?exp=10", &sig));
        assert!(!secrets.verify("d-1/v1/abc?exp=11", &sig));
        assert!(!secrets.verify("d-1/v1/abc?exp=10", "zz"));
    }
}

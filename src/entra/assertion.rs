//! Certificate credentials: reading a PEM that holds a certificate and its RSA private key, the
//! certificate's thumbprints, and the signed client-assertion JWT the token endpoint takes in
//! place of a secret (graph-notes §1.2: RS256, `x5t` and `x5t#S256`, aud = token endpoint).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use sha1::Digest;

/// How long an assertion is valid; Microsoft asks for 5-10 minutes.
pub const ASSERTION_LIFETIME_SECS: u64 = 600;

/// The PEM blocks of a file: `(label, DER bytes)`.
pub fn pem_blocks(text: &str) -> Vec<(String, Vec<u8>)> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = after[..label_end].to_owned();
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body_start.find(&end_marker) else {
            break;
        };
        let b64: String = body_start[..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if let Ok(der) = STANDARD.decode(b64) {
            blocks.push((label, der));
        }
        rest = &body_start[end + end_marker.len()..];
    }
    blocks
}

/// The SHA-1 thumbprint of a DER certificate, uppercase hex (as the portal shows it).
pub fn thumbprint_hex(der: &[u8]) -> String {
    sha1::Sha1::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// A certificate with its private key, ready to sign client assertions.
#[derive(Clone)]
pub struct CertificateCredential {
    der: Vec<u8>,
    key: RsaPrivateKey,
}

impl std::fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("thumbprint", &self.thumbprint())
            .field("key", &"[redacted]")
            .finish()
    }
}

impl CertificateCredential {
    /// Reads a PEM holding a `CERTIFICATE` and a `PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY`
    /// (PKCS#1). The error text never contains key material.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let blocks = pem_blocks(text);
        let der = blocks
            .iter()
            .find(|(label, _)| label == "CERTIFICATE")
            .map(|(_, der)| der.clone())
            .ok_or("the PEM holds no certificate (-----BEGIN CERTIFICATE-----)")?;
        let key = blocks
            .iter()
            .find_map(|(label, der)| match label.as_str() {
                "PRIVATE KEY" => {
                    Some(RsaPrivateKey::from_pkcs8_der(der).map_err(|e| e.to_string()))
                }
                "RSA PRIVATE KEY" => {
                    Some(RsaPrivateKey::from_pkcs1_der(der).map_err(|e| e.to_string()))
                }
                _ => None,
            })
            .ok_or(
                "the PEM holds no unencrypted RSA private key (-----BEGIN PRIVATE KEY----- or \
                 -----BEGIN RSA PRIVATE KEY-----)",
            )?
            .map_err(|e| format!("the private key cannot be read as RSA: {e}"))?;
        Ok(Self { der, key })
    }

    /// Reads [`Self::from_pem`] from a file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_pem(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The certificate's DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The SHA-1 thumbprint, uppercase hex.
    pub fn thumbprint(&self) -> String {
        thumbprint_hex(&self.der)
    }

    /// A signed client assertion for `client_id` at the token endpoint `audience`, valid from now
    /// for [`ASSERTION_LIFETIME_SECS`].
    pub fn assertion(&self, client_id: &str, audience: &str) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        self.assertion_at(client_id, audience, now)
    }

    /// [`Self::assertion`] with a chosen "now" (epoch seconds), for tests of the time window.
    pub fn assertion_at(&self, client_id: &str, audience: &str, now: u64) -> String {
        let header = serde_json::json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&self.der)),
            "x5t#S256": URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&self.der)),
        });
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(self.key.clone());
        let signature = signer.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = include_str!("../../tests/fixtures/entra/app.pem");

    #[test]
    fn reads_the_pem_and_signs_a_well_formed_assertion() {
        let cert = CertificateCredential::from_pem(PEM).unwrap();
        assert_eq!(cert.thumbprint().len(), 40);
        let jwt = cert.assertion_at("client", "https://login/t/oauth2/v2.0/token", 1_000);
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert!(header["x5t#S256"].is_string());
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "client");
        assert_eq!(claims["sub"], "client");
        assert_eq!(claims["exp"], 1_600);
        assert!(!format!("{cert:?}").contains("PRIVATE"));
    }

    #[test]
    fn a_pem_without_a_key_is_refused_by_name() {
        let cert_only = PEM.split("-----BEGIN PRIVATE KEY-----").next().unwrap();
        let error = CertificateCredential::from_pem(cert_only).unwrap_err();
        assert!(error.contains("no unencrypted RSA private key"), "{error}");
    }
}

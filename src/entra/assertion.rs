//! Certificate credentials: reading a PEM that holds a certificate and its RSA private key, the
//! certificate's thumbprints, and the signed client-assertion JWT the token endpoint takes in
//! place of a secret (graph-notes §1.2: RS256, `x5t` and `x5t#S256`, aud = token endpoint).
//! PEM framing comes from the `pem` crate, the key from `rsa`'s PKCS#1/PKCS#8 readers and the
//! JWT from `jsonwebtoken`; this module only chooses what goes into them.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use sha1::Digest;

/// How long an assertion is valid; Microsoft asks for 5-10 minutes.
pub const ASSERTION_LIFETIME_SECS: u64 = 600;

/// The PEM blocks of a file: `(label, DER bytes)`; empty when the text is not well-formed PEM.
pub fn pem_blocks(text: &str) -> Vec<(String, Vec<u8>)> {
    pem::parse_many(text)
        .map(|blocks| {
            blocks
                .into_iter()
                .map(|block| (block.tag().to_owned(), block.into_contents()))
                .collect()
        })
        .unwrap_or_default()
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
    key: EncodingKey,
}

impl std::fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("thumbprint", &self.thumbprint())
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The claims of a client assertion (graph-notes §1.2).
#[derive(serde::Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    iat: u64,
    exp: u64,
}

impl CertificateCredential {
    /// Reads a PEM holding a `CERTIFICATE` and a `PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY`
    /// (PKCS#1). The error text never contains key material.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let blocks = pem::parse_many(text).map_err(|e| {
            format!(
                "the file is not well-formed PEM ({e}); export the certificate and its private \
                 key again as PEM"
            )
        })?;
        let der = blocks
            .iter()
            .find(|block| block.tag() == "CERTIFICATE")
            .map(|block| block.contents().to_vec())
            .ok_or("the PEM holds no certificate (-----BEGIN CERTIFICATE-----)")?;
        let key = blocks
            .iter()
            .find_map(|block| match block.tag() {
                "PRIVATE KEY" => {
                    Some(RsaPrivateKey::from_pkcs8_der(block.contents()).map_err(|e| e.to_string()))
                }
                "RSA PRIVATE KEY" => {
                    Some(RsaPrivateKey::from_pkcs1_der(block.contents()).map_err(|e| e.to_string()))
                }
                _ => None,
            })
            .ok_or(
                "the PEM holds no unencrypted RSA private key (-----BEGIN PRIVATE KEY----- or \
                 -----BEGIN RSA PRIVATE KEY-----)",
            )?
            .map_err(|e| format!("the private key cannot be read as RSA: {e}"))?;
        // jsonwebtoken's RSA signer takes PKCS#1 DER, whichever form the file used.
        let pkcs1 = key
            .to_pkcs1_der()
            .map_err(|e| format!("the private key cannot be re-encoded as PKCS#1: {e}"))?;
        Ok(Self {
            der,
            key: EncodingKey::from_rsa_der(pkcs1.as_bytes()),
        })
    }

    /// Reads [`Self::from_pem`] from a file.
    /// The file must be its owner's alone (it holds the private key): see [`crate::secret::perms`].
    pub fn from_file(path: &std::path::Path) -> Result<Self, String> {
        crate::secret::perms::check(path, crate::secret::perms::Sensitivity::Private)
            .map_err(|problem| problem.to_string())?;
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
    pub fn assertion(&self, client_id: &str, audience: &str) -> Result<String, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        self.assertion_at(client_id, audience, now)
    }

    /// [`Self::assertion`] with a chosen "now" (epoch seconds), for tests of the time window.
    pub fn assertion_at(
        &self,
        client_id: &str,
        audience: &str,
        now: u64,
    ) -> Result<String, String> {
        let mut header = Header::new(Algorithm::RS256);
        header.x5t = Some(URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&self.der)));
        header.x5t_s256 = Some(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&self.der)));
        let claims = AssertionClaims {
            aud: audience,
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| {
            format!(
                "the client assertion for certificate {} cannot be signed: {e}",
                self.thumbprint()
            )
        })
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
        let jwt = cert
            .assertion_at("client", "https://login/t/oauth2/v2.0/token", 1_000)
            .unwrap();
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

    #[test]
    fn the_signature_verifies_against_the_certificate_public_key() {
        use x509_cert::der::Decode;
        let cert = CertificateCredential::from_pem(PEM).unwrap();
        let x509 = x509_cert::Certificate::from_der(cert.der()).unwrap();
        let public = x509
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
            .to_vec();
        let jwt = cert.assertion_at("client", "aud", 1_000).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.set_audience(&["aud"]);
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            &jwt,
            &jsonwebtoken::DecodingKey::from_rsa_der(&public),
            &validation,
        )
        .unwrap();
        let x5t = URL_SAFE_NO_PAD.decode(decoded.header.x5t.unwrap()).unwrap();
        let hex: String = x5t.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(hex, cert.thumbprint());
        assert_eq!(decoded.claims["nbf"], 1_000);

        // One flipped signature byte no longer verifies.
        let (body, signature) = jwt.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
        bytes[0] ^= 1;
        let forged = format!("{body}.{}", URL_SAFE_NO_PAD.encode(bytes));
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(
                &forged,
                &jsonwebtoken::DecodingKey::from_rsa_der(&public),
                &validation,
            )
            .is_err()
        );
    }

    #[test]
    fn broken_pem_framing_is_refused_with_what_to_do() {
        let broken = PEM.replace("-----END CERTIFICATE-----", "");
        let error = CertificateCredential::from_pem(&broken).unwrap_err();
        assert!(error.contains("not well-formed PEM"), "{error}");
        assert!(!error.contains("MII"), "{error}");
    }
}

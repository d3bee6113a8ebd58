//! Making the app's certificate on this machine: a new 2048-bit RSA key and a self-signed
//! certificate, written as one PEM (mode 0600, what the config names) with the public `.cer`
//! beside it. The wizard's *Generate certificate* and `adsync entra register` share it, so the
//! private key is made in one place and never leaves the machine.

use std::path::{Path, PathBuf};

/// A certificate generated on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedCertificate {
    /// The PEM with certificate and private key (mode 0600), what the config names.
    pub pem: PathBuf,
    /// The public certificate (DER) written beside it, to upload to the app registration.
    pub cer: PathBuf,
    /// SHA-1 thumbprint, upper-case hex (what the portal shows).
    pub thumbprint: String,
    /// The public certificate (DER), what a `keyCredentials` entry carries.
    pub der: Vec<u8>,
    /// The first day it is valid, ISO-8601 UTC.
    pub not_before: String,
    /// The last day it is valid, ISO-8601 UTC.
    pub not_after: String,
}

/// Makes a self-signed certificate with a new 2048-bit RSA key (what `CertificateCredential`
/// signs with) and writes the PEM (certificate + key, mode 0600) at `pem` and the public
/// certificate (DER) beside it as `.cer`.
pub fn generate_certificate(pem: &Path, subject: &str) -> Result<GeneratedCertificate, String> {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        format!("Generating the certificate failed ({what}: {e}).")
    };
    let key = rsa::RsaPrivateKey::new(&mut CompatRng, 2048).map_err(|e| failed("RSA key", &e))?;
    let key_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| failed("PKCS#8", &e))?;
    let key_pair = rcgen::KeyPair::from_pem(&key_pem).map_err(|e| failed("key pair", &e))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|e| failed("parameters", &e))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, subject);
    let year = current_year();
    params.not_before = rcgen::date_time_ymd(year, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 2, 12, 31);
    let certificate = params
        .self_signed(&key_pair)
        .map_err(|e| failed("signing", &e))?;
    let mut text = certificate.pem();
    text.push_str(key_pem.as_str());
    crate::fsutil::write_atomic(pem, text.as_bytes())
        .map_err(|e| format!("Cannot write {}: {e}.", pem.display()))?;
    let cer = pem.with_extension("cer");
    std::fs::write(&cer, certificate.der())
        .map_err(|e| format!("Cannot write {}: {e}.", cer.display()))?;
    Ok(GeneratedCertificate {
        pem: pem.to_owned(),
        cer,
        thumbprint: super::thumbprint_hex(certificate.der()),
        der: certificate.der().to_vec(),
        not_before: format!("{year}-01-01T00:00:00Z"),
        not_after: format!("{}-12-31T00:00:00Z", year + 2),
    })
}

/// The current year (UTC, to within a day: the certificate's validity starts on 1 January).
fn current_year() -> i32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    1970 + (secs / 31_556_952) as i32
}

/// `rand`'s thread RNG (a CSPRNG seeded by the OS) for `rsa`, which wants the older `rand_core`.
struct CompatRng;

impl rsa::rand_core::RngCore for CompatRng {
    fn next_u32(&mut self) -> u32 {
        rand::random()
    }
    fn next_u64(&mut self) -> u64 {
        rand::random()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand::fill(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        rand::fill(dest);
        Ok(())
    }
}

impl rsa::rand_core::CryptoRng for CompatRng {}

//! Reading the X.509 certificates IAM keeps (server certificates, signing certificates) and
//! checking a server certificate's private key against its certificate.
//!
//! A certificate body is one PEM `CERTIFICATE` block; a chain is one or more of them; a private
//! key is one PEM block of PKCS #8, PKCS #1 (RSA) or SEC 1 (EC). Whatever does not read as such
//! is IAM's `MalformedCertificate`.

use kinko_core::Timestamp;
use x509_parser::pem::Pem;
use zeroize::Zeroizing;

use super::error::IamError;

/// What IAM answers for a certificate body that is not a PEM X.509 certificate.
fn malformed() -> IamError {
    IamError::MalformedCertificate(
        "Unable to parse certificate. Please ensure the certificate is in PEM format.".into(),
    )
}

/// A certificate as IAM reads it from its PEM text.
pub struct Certificate {
    /// The certificate's DER: two uploads of the same certificate compare equal by it.
    pub der: Vec<u8>,
    /// Its `notAfter`.
    pub expiration: Timestamp,
    /// The `subjectPublicKey` bits of its SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
}

/// The PEM blocks of `text`, in order; `None` if any of them is not PEM.
fn pem_blocks(text: &str) -> Option<Vec<Pem>> {
    let blocks: Result<Vec<Pem>, _> = Pem::iter_from_buffer(text.as_bytes()).collect();
    blocks.ok().filter(|b| !b.is_empty())
}

fn read_certificate(pem: &Pem) -> Option<Certificate> {
    if pem.label != "CERTIFICATE" {
        return None;
    }
    let cert = pem.parse_x509().ok()?;
    let expiration = Timestamp::from_millis(cert.validity().not_after.timestamp().checked_mul(1000)?);
    Some(Certificate {
        der: pem.contents.clone(),
        expiration,
        public_key: cert.public_key().subject_public_key.data.to_vec(),
    })
}

/// A certificate body: exactly one PEM X.509 certificate.
pub fn certificate(body: &str) -> Result<Certificate, IamError> {
    match pem_blocks(body).as_deref() {
        Some([one]) => read_certificate(one).ok_or_else(malformed),
        _ => Err(malformed()),
    }
}

/// A certificate chain: one or more PEM X.509 certificates.
pub fn chain(text: &str) -> Result<(), IamError> {
    let blocks = pem_blocks(text).ok_or_else(malformed)?;
    if blocks.iter().all(|b| read_certificate(b).is_some()) {
        Ok(())
    } else {
        Err(malformed())
    }
}

/// Checks that `private_key` (PEM) is the private key of `cert`.
pub fn check_private_key(cert: &Certificate, private_key: &str) -> Result<(), IamError> {
    let unreadable = || IamError::MalformedCertificate("Unable to parse private key.".into());
    let mut blocks = pem_blocks(private_key).ok_or_else(unreadable)?;
    let (Some(key), None) = (blocks.pop(), blocks.pop()) else {
        return Err(unreadable());
    };
    if !matches!(
        key.label.as_str(),
        "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY"
    ) {
        return Err(unreadable());
    }
    let der = Zeroizing::new(key.contents);
    match kinko_crypto::asymmetric::private_key_matches(&der, &cert.public_key) {
        Ok(true) => Ok(()),
        Ok(false) => Err(IamError::KeyPairMismatch(
            "The private key did not match the public key in the certificate.".into(),
        )),
        Err(_) => Err(unreadable()),
    }
}

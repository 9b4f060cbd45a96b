//! Asymmetric KMS keys: RSA and elliptic-curve key pairs, their signatures (RSASSA-PSS,
//! RSASSA-PKCS1-v1_5, ECDSA) and RSAES-OAEP encryption, as AWS KMS offers them; and HMAC keys.
//!
//! A private key is held as PKCS #8 DER in a zeroizing buffer ([`PrivateKey`]): that is what is
//! wrapped by the root key and stored, like a symmetric key's material. Public keys are DER
//! `SubjectPublicKeyInfo`, as KMS's GetPublicKey returns them. Signatures are what standard
//! verifiers take: ECDSA signatures DER-encoded, RSASSA-PSS with MGF1 over the same digest and a
//! salt as long as the digest, the same as KMS.
//!
//! Algorithms come from `aws-lc-rs` (ring's API, plus RSA key generation, secp256k1, OAEP and
//! signing of a precomputed digest, which ring lacks).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, KeyPair, RsaKeyPair};
use aws_lc_rs::{agreement, digest, hmac};
use zeroize::Zeroizing;

use crate::CryptoError;

/// The kind of an asymmetric key pair (KMS `KeySpec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EccNistP256,
    EccNistP384,
    EccNistP521,
    EccSecgP256k1,
}

impl Spec {
    fn is_rsa(self) -> bool {
        matches!(self, Spec::Rsa2048 | Spec::Rsa3072 | Spec::Rsa4096)
    }

    /// The ECDSA algorithm of an elliptic-curve key: its curve with the digest KMS pairs it with.
    fn ecdsa(self) -> Option<&'static sig::EcdsaSigningAlgorithm> {
        match self {
            Spec::EccNistP256 => Some(&sig::ECDSA_P256_SHA256_ASN1_SIGNING),
            Spec::EccNistP384 => Some(&sig::ECDSA_P384_SHA384_ASN1_SIGNING),
            Spec::EccNistP521 => Some(&sig::ECDSA_P521_SHA512_ASN1_SIGNING),
            Spec::EccSecgP256k1 => Some(&sig::ECDSA_P256K1_SHA256_ASN1_SIGNING),
            Spec::Rsa2048 | Spec::Rsa3072 | Spec::Rsa4096 => None,
        }
    }

    fn ecdsa_verification(self) -> Option<&'static sig::EcdsaVerificationAlgorithm> {
        match self {
            Spec::EccNistP256 => Some(&sig::ECDSA_P256_SHA256_ASN1),
            Spec::EccNistP384 => Some(&sig::ECDSA_P384_SHA384_ASN1),
            Spec::EccNistP521 => Some(&sig::ECDSA_P521_SHA512_ASN1),
            Spec::EccSecgP256k1 => Some(&sig::ECDSA_P256K1_SHA256_ASN1),
            Spec::Rsa2048 | Spec::Rsa3072 | Spec::Rsa4096 => None,
        }
    }

    /// The modulus length in bytes of an RSA key.
    fn rsa_bytes(self) -> Option<usize> {
        match self {
            Spec::Rsa2048 => Some(256),
            Spec::Rsa3072 => Some(384),
            Spec::Rsa4096 => Some(512),
            _ => None,
        }
    }
}

/// A digest algorithm of the signing algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn algorithm(self) -> &'static digest::Algorithm {
        match self {
            Hash::Sha256 => &digest::SHA256,
            Hash::Sha384 => &digest::SHA384,
            Hash::Sha512 => &digest::SHA512,
        }
    }

    /// The length of its digests in bytes.
    pub fn digest_len(self) -> usize {
        self.algorithm().output_len()
    }
}

/// A signature scheme with its digest (KMS `SigningAlgorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    RsaPss(Hash),
    RsaPkcs1(Hash),
    Ecdsa(Hash),
}

impl Signing {
    pub fn hash(self) -> Hash {
        match self {
            Signing::RsaPss(h) | Signing::RsaPkcs1(h) | Signing::Ecdsa(h) => h,
        }
    }

    /// Whether a key of `spec` signs with this algorithm: RSA keys with the RSA schemes, each
    /// curve with ECDSA and its own digest.
    pub fn fits(self, spec: Spec) -> bool {
        match self {
            Signing::RsaPss(_) | Signing::RsaPkcs1(_) => spec.is_rsa(),
            Signing::Ecdsa(h) => match spec {
                Spec::EccNistP256 | Spec::EccSecgP256k1 => h == Hash::Sha256,
                Spec::EccNistP384 => h == Hash::Sha384,
                Spec::EccNistP521 => h == Hash::Sha512,
                Spec::Rsa2048 | Spec::Rsa3072 | Spec::Rsa4096 => false,
            },
        }
    }

    fn rsa_encoding(self) -> Option<&'static dyn sig::RsaEncoding> {
        Some(match self {
            Signing::RsaPss(Hash::Sha256) => &sig::RSA_PSS_SHA256,
            Signing::RsaPss(Hash::Sha384) => &sig::RSA_PSS_SHA384,
            Signing::RsaPss(Hash::Sha512) => &sig::RSA_PSS_SHA512,
            Signing::RsaPkcs1(Hash::Sha256) => &sig::RSA_PKCS1_SHA256,
            Signing::RsaPkcs1(Hash::Sha384) => &sig::RSA_PKCS1_SHA384,
            Signing::RsaPkcs1(Hash::Sha512) => &sig::RSA_PKCS1_SHA512,
            Signing::Ecdsa(_) => return None,
        })
    }

    fn rsa_verification(self) -> Option<&'static sig::RsaParameters> {
        Some(match self {
            Signing::RsaPss(Hash::Sha256) => &sig::RSA_PSS_2048_8192_SHA256,
            Signing::RsaPss(Hash::Sha384) => &sig::RSA_PSS_2048_8192_SHA384,
            Signing::RsaPss(Hash::Sha512) => &sig::RSA_PSS_2048_8192_SHA512,
            Signing::RsaPkcs1(Hash::Sha256) => &sig::RSA_PKCS1_2048_8192_SHA256,
            Signing::RsaPkcs1(Hash::Sha384) => &sig::RSA_PKCS1_2048_8192_SHA384,
            Signing::RsaPkcs1(Hash::Sha512) => &sig::RSA_PKCS1_2048_8192_SHA512,
            Signing::Ecdsa(_) => return None,
        })
    }
}

/// What is signed: the message itself (hashed here), or its digest computed by the caller.
#[derive(Debug, Clone, Copy)]
pub enum Message<'a> {
    Raw(&'a [u8]),
    Digest(&'a [u8]),
}

/// RSAES-OAEP with SHA-1 or SHA-256 (and MGF1 with the same digest, no label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oaep {
    Sha1,
    Sha256,
}

impl Oaep {
    fn algorithm(self) -> &'static OaepAlgorithm {
        match self {
            Oaep::Sha1 => &OAEP_SHA1_MGF1SHA1,
            Oaep::Sha256 => &OAEP_SHA256_MGF1SHA256,
        }
    }

    /// The largest plaintext a key of `spec` encrypts: the modulus length less twice the digest
    /// length less 2 (RFC 8017, 7.1.1). `None` for an elliptic-curve key.
    pub fn max_plaintext(self, spec: Spec) -> Option<usize> {
        let hash = match self {
            Oaep::Sha1 => 20,
            Oaep::Sha256 => 32,
        };
        spec.rsa_bytes().map(|n| n - 2 * hash - 2)
    }
}

/// A private key as PKCS #8 DER. Zeroed on drop; `Debug` prints no bytes.
pub struct PrivateKey(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey([redacted])")
    }
}

fn invalid_key() -> CryptoError {
    CryptoError::InvalidKey("not a private key of its key spec".into())
}

impl PrivateKey {
    /// A fresh key pair of `spec`.
    pub fn generate(spec: Spec) -> Result<Self, CryptoError> {
        let der = match spec.ecdsa() {
            Some(alg) => EcdsaKeyPair::generate(alg)
                .and_then(|k| k.to_pkcs8v1())
                .map(|d| d.as_ref().to_vec()),
            None => {
                let size = match spec {
                    Spec::Rsa2048 => KeySize::Rsa2048,
                    Spec::Rsa3072 => KeySize::Rsa3072,
                    _ => KeySize::Rsa4096,
                };
                RsaKeyPair::generate(size)
                    .and_then(|k| k.as_der())
                    .map(|d| d.as_ref().to_vec())
            }
        }
        .map_err(|_| CryptoError::Rng)?;
        Ok(PrivateKey(Zeroizing::new(der)))
    }

    /// A key from its PKCS #8 DER (unwrapped material).
    pub fn from_pkcs8(der: &[u8]) -> Self {
        PrivateKey(Zeroizing::new(der.to_vec()))
    }

    /// The PKCS #8 DER, to be wrapped by the root key (or handed out by GenerateDataKeyPair).
    pub fn pkcs8(&self) -> &[u8] {
        &self.0
    }

    fn rsa(&self) -> Result<RsaKeyPair, CryptoError> {
        RsaKeyPair::from_pkcs8(&self.0).map_err(|_| invalid_key())
    }

    fn ecdsa(&self, spec: Spec) -> Result<EcdsaKeyPair, CryptoError> {
        let alg = spec.ecdsa().ok_or_else(invalid_key)?;
        EcdsaKeyPair::from_pkcs8(alg, &self.0).map_err(|_| invalid_key())
    }

    /// The public key as DER `SubjectPublicKeyInfo`.
    pub fn public_key_der(&self, spec: Spec) -> Result<Vec<u8>, CryptoError> {
        let der = if spec.is_rsa() {
            self.rsa()?.public_key().as_der().map(|d| d.as_ref().to_vec())
        } else {
            self.ecdsa(spec)?
                .public_key()
                .as_der()
                .map(|d| d.as_ref().to_vec())
        };
        der.map_err(|_| invalid_key())
    }

    /// Signs a message, or a digest of the algorithm's length, with `alg` (which must fit `spec`).
    pub fn sign(&self, spec: Spec, alg: Signing, message: Message<'_>) -> Result<Vec<u8>, CryptoError> {
        if !alg.fits(spec) {
            return Err(invalid_key());
        }
        let digest = digest_of(alg.hash(), message)?;
        match alg.rsa_encoding() {
            Some(encoding) => {
                let key = self.rsa()?;
                let mut out = vec![0; key.public_modulus_len()];
                key.sign_digest(encoding, &digest, &mut out)
                    .map_err(|_| invalid_key())?;
                Ok(out)
            }
            None => {
                let key = self.ecdsa(spec)?;
                let signature = key.sign_digest(&digest).map_err(|_| invalid_key())?;
                Ok(signature.as_ref().to_vec())
            }
        }
    }

    /// Whether `signature` is `alg`'s signature of the message (or digest) under this key.
    pub fn verify(
        &self,
        spec: Spec,
        alg: Signing,
        message: Message<'_>,
        signature: &[u8],
    ) -> Result<bool, CryptoError> {
        if !alg.fits(spec) {
            return Err(invalid_key());
        }
        let digest = digest_of(alg.hash(), message)?;
        let public = self.public_key_der(spec)?;
        let ok = match (alg.rsa_verification(), spec.ecdsa_verification()) {
            (Some(params), _) => sig::UnparsedPublicKey::new(params, &public)
                .verify_digest(&digest, signature)
                .is_ok(),
            (None, Some(ecdsa)) => sig::UnparsedPublicKey::new(ecdsa, &public)
                .verify_digest(&digest, signature)
                .is_ok(),
            (None, None) => return Err(invalid_key()),
        };
        Ok(ok)
    }

    /// ECDH (KMS `DeriveSharedSecret`): the raw shared secret, the x-coordinate of the product of
    /// this private key and the peer's public key, given as DER `SubjectPublicKeyInfo` on the same
    /// NIST curve. `None` when the peer key is not such a key (wrong encoding, another curve, not a
    /// point of the curve); an error when this key is not a NIST elliptic-curve key.
    pub fn agree(&self, spec: Spec, peer_spki: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, CryptoError> {
        let alg = match spec {
            Spec::EccNistP256 => &agreement::ECDH_P256,
            Spec::EccNistP384 => &agreement::ECDH_P384,
            Spec::EccNistP521 => &agreement::ECDH_P521,
            _ => return Err(invalid_key()),
        };
        let private = agreement::PrivateKey::from_private_key_der(alg, &self.0).map_err(|_| invalid_key())?;
        // SubjectPublicKeyInfo only, as KMS takes it: a DER SEQUENCE. (The library would also
        // take a bare SEC1 point.)
        if peer_spki.first() != Some(&0x30) {
            return Ok(None);
        }
        let peer = agreement::UnparsedPublicKey::new(alg, peer_spki);
        Ok(agreement::agree(&private, peer, (), |secret| Ok(Zeroizing::new(secret.to_vec()))).ok())
    }

    /// RSAES-OAEP encryption under the public key. `TooLarge` beyond [`Oaep::max_plaintext`].
    pub fn encrypt(&self, spec: Spec, alg: Oaep, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let max = alg.max_plaintext(spec).ok_or_else(invalid_key)?;
        if plaintext.len() > max {
            return Err(CryptoError::TooLarge);
        }
        let private = PrivateDecryptingKey::from_pkcs8(&self.0).map_err(|_| invalid_key())?;
        let public = OaepPublicEncryptingKey::new(private.public_key()).map_err(|_| invalid_key())?;
        let mut out = vec![0; public.ciphertext_size()];
        let len = public
            .encrypt(alg.algorithm(), plaintext, &mut out, None)
            .map_err(|_| invalid_key())?
            .len();
        out.truncate(len);
        Ok(out)
    }

    /// RSAES-OAEP decryption. Any failure (another key's ciphertext, another algorithm's, tampered
    /// bytes) is `InvalidCiphertext`.
    pub fn decrypt(&self, alg: Oaep, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let private = PrivateDecryptingKey::from_pkcs8(&self.0).map_err(|_| invalid_key())?;
        let key = OaepPrivateDecryptingKey::new(private).map_err(|_| invalid_key())?;
        let mut out = Zeroizing::new(vec![0; key.min_output_size()]);
        let len = key
            .decrypt(alg.algorithm(), ciphertext, &mut out, None)
            .map_err(|_| CryptoError::InvalidCiphertext)?
            .len();
        out.truncate(len);
        Ok(out)
    }
}

impl PrivateKey {
    /// Whether this is a private key of `spec` (imported key material): an RSA key of the
    /// spec's size, or an elliptic-curve key on the spec's curve.
    pub fn is_of(&self, spec: Spec) -> bool {
        match spec.rsa_bytes() {
            Some(n) => self.rsa().is_ok_and(|k| k.public_modulus_len() == n),
            None => self.ecdsa(spec).is_ok(),
        }
    }

    /// Key material wrapped as AWS KMS's `RSA_AES_KEY_WRAP_SHA_*` wrapping algorithms do: an
    /// AES-256 key under RSAES-OAEP (as long as the modulus), then the material wrapped by that
    /// key with AES key wrap with padding (RFC 5649). Any failure is `InvalidCiphertext`.
    pub fn unwrap_rsa_aes(
        &self,
        spec: Spec,
        alg: Oaep,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
        let n = spec.rsa_bytes().ok_or_else(invalid_key)?;
        if wrapped.len() <= n {
            return Err(CryptoError::InvalidCiphertext);
        }
        let (head, tail) = wrapped.split_at(n);
        let aes = self.decrypt(alg, head)?;
        let kek = AesKek::new(&AES_256, &aes).map_err(|_| CryptoError::InvalidCiphertext)?;
        let mut out = Zeroizing::new(vec![0; tail.len()]);
        let len = kek
            .unwrap_with_padding(tail, &mut out)
            .map_err(|_| CryptoError::InvalidCiphertext)?
            .len();
        out.truncate(len);
        Ok(out)
    }
}

/// The digest a signature covers: the message's, or the caller's digest when its length is the
/// algorithm's (`InvalidKey` never; `TooLarge` stands for a wrong digest length).
fn digest_of(hash: Hash, message: Message<'_>) -> Result<digest::Digest, CryptoError> {
    match message {
        Message::Raw(m) => Ok(digest::digest(hash.algorithm(), m)),
        Message::Digest(d) => {
            digest::Digest::import_less_safe(d, hash.algorithm()).map_err(|_| CryptoError::TooLarge)
        }
    }
}

/// An HMAC algorithm (KMS `MacAlgorithm` and the HMAC key specs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mac {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Mac {
    fn algorithm(self) -> hmac::Algorithm {
        match self {
            Mac::Sha224 => hmac::HMAC_SHA224,
            Mac::Sha256 => hmac::HMAC_SHA256,
            Mac::Sha384 => hmac::HMAC_SHA384,
            Mac::Sha512 => hmac::HMAC_SHA512,
        }
    }

    /// The length of a key of the matching HMAC key spec: the digest length (KMS's HMAC_224 key is
    /// 224 bits, and so on).
    pub fn key_len(self) -> usize {
        match self {
            Mac::Sha224 => 28,
            Mac::Sha256 => 32,
            Mac::Sha384 => 48,
            Mac::Sha512 => 64,
        }
    }

    /// The lengths of HMAC key material KMS imports for the matching key spec: from the digest
    /// length to the hash function's block size.
    pub fn imported_key_lengths(self) -> std::ops::RangeInclusive<usize> {
        match self {
            Mac::Sha224 | Mac::Sha256 => self.key_len()..=64,
            Mac::Sha384 | Mac::Sha512 => self.key_len()..=128,
        }
    }

    /// The MAC of `message` under `key`.
    pub fn sign(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        hmac::sign(&hmac::Key::new(self.algorithm(), key), message)
            .as_ref()
            .to_vec()
    }

    /// Whether `mac` is the MAC of `message` under `key`, compared in constant time.
    pub fn verify(self, key: &[u8], message: &[u8], mac: &[u8]) -> bool {
        hmac::verify(&hmac::Key::new(self.algorithm(), key), message, mac).is_ok()
    }
}

/// Whether `private_key` is the private half of `public_key`: the IAM check that a server
/// certificate's private key belongs to its certificate. `private_key` is DER as a PEM block
/// holds it: PKCS #8 (`PRIVATE KEY`), PKCS #1 (`RSA PRIVATE KEY`) or SEC 1 (`EC PRIVATE KEY`);
/// `public_key` is the `subjectPublicKey` bits of the certificate's SubjectPublicKeyInfo (an RSA
/// key's `RSAPublicKey`, an EC key's uncompressed point, an Ed25519 key's 32 bytes).
/// `InvalidKey` when `private_key` is no RSA, EC or Ed25519 private key at all.
pub fn private_key_matches(private_key: &[u8], public_key: &[u8]) -> Result<bool, CryptoError> {
    let rsa = RsaKeyPair::from_pkcs8(private_key).or_else(|_| RsaKeyPair::from_der(private_key));
    if let Ok(k) = rsa {
        return Ok(k.public_key().as_ref() == public_key);
    }
    for alg in [
        &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
        &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
        &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
        &sig::ECDSA_P256K1_SHA256_ASN1_SIGNING,
    ] {
        if let Ok(k) = EcdsaKeyPair::from_private_key_der(alg, private_key) {
            return Ok(k.public_key().as_ref() == public_key);
        }
    }
    if let Ok(k) = sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(private_key) {
        return Ok(k.public_key().as_ref() == public_key);
    }
    Err(CryptoError::InvalidKey(
        "not an RSA, EC or Ed25519 private key".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [(Spec, &[Signing]); 7] = [
        (
            Spec::Rsa2048,
            &[
                Signing::RsaPss(Hash::Sha256),
                Signing::RsaPss(Hash::Sha384),
                Signing::RsaPss(Hash::Sha512),
                Signing::RsaPkcs1(Hash::Sha256),
                Signing::RsaPkcs1(Hash::Sha384),
                Signing::RsaPkcs1(Hash::Sha512),
            ],
        ),
        (Spec::Rsa3072, &[Signing::RsaPss(Hash::Sha256)]),
        (Spec::Rsa4096, &[Signing::RsaPkcs1(Hash::Sha512)]),
        (Spec::EccNistP256, &[Signing::Ecdsa(Hash::Sha256)]),
        (Spec::EccNistP384, &[Signing::Ecdsa(Hash::Sha384)]),
        (Spec::EccNistP521, &[Signing::Ecdsa(Hash::Sha512)]),
        (Spec::EccSecgP256k1, &[Signing::Ecdsa(Hash::Sha256)]),
    ];

    #[test]
    fn ecdh_gives_both_sides_the_same_secret_and_refuses_other_curves() {
        for (spec, len) in [
            (Spec::EccNistP256, 32),
            (Spec::EccNistP384, 48),
            (Spec::EccNistP521, 66),
        ] {
            let (alice, bob) = (
                PrivateKey::generate(spec).unwrap(),
                PrivateKey::generate(spec).unwrap(),
            );
            let ab = alice
                .agree(spec, &bob.public_key_der(spec).unwrap())
                .unwrap()
                .unwrap();
            let ba = bob
                .agree(spec, &alice.public_key_der(spec).unwrap())
                .unwrap()
                .unwrap();
            assert_eq!(ab.len(), len);
            assert_eq!(*ab, *ba);
            let other = if spec == Spec::EccNistP256 {
                Spec::EccNistP384
            } else {
                Spec::EccNistP256
            };
            let foreign = PrivateKey::generate(other)
                .unwrap()
                .public_key_der(other)
                .unwrap();
            assert!(alice.agree(spec, &foreign).unwrap().is_none(), "another curve");
            let rsa = PrivateKey::generate(Spec::Rsa2048)
                .unwrap()
                .public_key_der(Spec::Rsa2048)
                .unwrap();
            assert!(alice.agree(spec, &rsa).unwrap().is_none(), "an RSA key");
            assert!(
                alice.agree(spec, b"\x04not a point").unwrap().is_none(),
                "a bare point"
            );
            assert!(alice.agree(spec, b"").unwrap().is_none());
        }
        let k1 = PrivateKey::generate(Spec::EccSecgP256k1).unwrap();
        let peer = k1.public_key_der(Spec::EccSecgP256k1).unwrap();
        assert!(k1.agree(Spec::EccSecgP256k1, &peer).is_err(), "not a NIST curve");
    }

    #[test]
    fn signatures_verify_raw_and_as_digest_and_fail_when_tampered() {
        for (spec, algs) in ALL {
            let key = PrivateKey::generate(spec).unwrap();
            let again = PrivateKey::from_pkcs8(key.pkcs8());
            assert!(!again.public_key_der(spec).unwrap().is_empty());
            for &alg in algs {
                let sig = key.sign(spec, alg, Message::Raw(b"hello")).unwrap();
                assert!(again.verify(spec, alg, Message::Raw(b"hello"), &sig).unwrap());
                let digest = digest::digest(alg.hash().algorithm(), b"hello");
                assert!(
                    again
                        .verify(spec, alg, Message::Digest(digest.as_ref()), &sig)
                        .unwrap(),
                    "{spec:?} {alg:?}"
                );
                assert!(!again.verify(spec, alg, Message::Raw(b"hellO"), &sig).unwrap());
                let mut bad = sig.clone();
                let last = bad.len() - 1;
                bad[last] ^= 1;
                assert!(!again.verify(spec, alg, Message::Raw(b"hello"), &bad).unwrap());
            }
        }
    }

    #[test]
    fn a_digest_of_the_wrong_length_is_refused() {
        let key = PrivateKey::generate(Spec::EccNistP256).unwrap();
        let alg = Signing::Ecdsa(Hash::Sha256);
        assert!(
            key.sign(Spec::EccNistP256, alg, Message::Digest(&[0; 31]))
                .is_err()
        );
        assert!(
            key.sign(Spec::EccNistP256, alg, Message::Digest(&[0; 32]))
                .is_ok()
        );
    }

    #[test]
    fn a_curve_signs_only_with_its_own_digest() {
        assert!(Signing::Ecdsa(Hash::Sha256).fits(Spec::EccSecgP256k1));
        assert!(!Signing::Ecdsa(Hash::Sha384).fits(Spec::EccNistP256));
        assert!(!Signing::RsaPss(Hash::Sha256).fits(Spec::EccNistP256));
        assert!(!Signing::Ecdsa(Hash::Sha256).fits(Spec::Rsa2048));
    }

    #[test]
    fn oaep_round_trips_up_to_its_limit() {
        let spec = Spec::Rsa2048;
        let key = PrivateKey::generate(spec).unwrap();
        for (alg, max) in [(Oaep::Sha1, 214), (Oaep::Sha256, 190)] {
            assert_eq!(alg.max_plaintext(spec), Some(max));
            let ct = key.encrypt(spec, alg, &vec![7; max]).unwrap();
            assert_eq!(ct.len(), 256);
            assert_eq!(&key.decrypt(alg, &ct).unwrap()[..], &vec![7; max][..]);
            assert!(matches!(
                key.encrypt(spec, alg, &vec![7; max + 1]),
                Err(CryptoError::TooLarge)
            ));
        }
        let ct = key.encrypt(spec, Oaep::Sha256, b"x").unwrap();
        assert!(key.decrypt(Oaep::Sha1, &ct).is_err());
        assert_eq!(Oaep::Sha256.max_plaintext(Spec::Rsa4096), Some(446));
        assert_eq!(Oaep::Sha1.max_plaintext(Spec::Rsa3072), Some(342));
    }

    #[test]
    fn hmac_verifies_its_own_tags_only() {
        for mac in [Mac::Sha224, Mac::Sha256, Mac::Sha384, Mac::Sha512] {
            let key = vec![1; mac.key_len()];
            let tag = mac.sign(&key, b"m");
            assert!(mac.verify(&key, b"m", &tag));
            assert!(!mac.verify(&key, b"n", &tag));
        }
    }

    #[test]
    fn debug_prints_no_key() {
        let key = PrivateKey::generate(Spec::EccNistP256).unwrap();
        assert_eq!(format!("{key:?}"), "PrivateKey([redacted])");
    }

    #[test]
    fn private_keys_match_their_public_keys_only() {
        for spec in [Spec::Rsa2048, Spec::EccNistP256, Spec::EccNistP384] {
            let key = PrivateKey::generate(spec).unwrap();
            let other = PrivateKey::generate(spec).unwrap();
            let public = |k: &PrivateKey| -> Vec<u8> {
                match spec.ecdsa() {
                    Some(alg) => EcdsaKeyPair::from_pkcs8(alg, k.pkcs8())
                        .unwrap()
                        .public_key()
                        .as_ref()
                        .to_vec(),
                    None => RsaKeyPair::from_pkcs8(k.pkcs8())
                        .unwrap()
                        .public_key()
                        .as_ref()
                        .to_vec(),
                }
            };
            assert!(
                private_key_matches(key.pkcs8(), &public(&key)).unwrap(),
                "{spec:?}"
            );
            assert!(
                !private_key_matches(key.pkcs8(), &public(&other)).unwrap(),
                "{spec:?}"
            );
        }
        assert!(private_key_matches(b"not a key", b"").is_err());
    }
}

//! GetPublicKey, Sign, Verify, DeriveSharedSecret: asymmetric keys (RSA and elliptic-curve key
//! pairs).
//!
//! The private key never leaves the keyring: it signs, and GetPublicKey hands out the public key
//! as DER `SubjectPublicKeyInfo`, so that anyone can verify a signature or encrypt to an RSA
//! encryption key without KMS. Signatures are the standard encodings (ECDSA in DER), which
//! `openssl` and other libraries verify.

use kinko_core::kms::{KeyUsage, KmsKey};
use kinko_crypto::asymmetric::{Message, Signing};
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use crate::kms::model::{self, algorithms};
use crate::kms::{
    Accepts, Authorization, Cx, Found, Kms, KmsError, Operation, for_usage, found_check, resolve_key, usable,
};

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetPublicKeyInput {
    key_id: Option<String>,
    grant_tokens: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetPublicKeyOutput {
    key_id: String,
    public_key: String,
    customer_master_key_spec: &'static str,
    key_spec: &'static str,
    key_usage: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_algorithms: Option<&'static [&'static str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_algorithms: Option<&'static [&'static str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_agreement_algorithms: Option<&'static [&'static str]>,
}

pub(crate) struct GetPublicKey;

impl Operation for GetPublicKey {
    type Service = Kms;
    const NAME: &'static str = "GetPublicKey";
    type Input = GetPublicKeyInput;
    type Output = GetPublicKeyOutput;
    type Resolved = Found;

    fn validate(i: &GetPublicKeyInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        v.list_length("grantTokens", i.grant_tokens.as_deref(), 0, 10);
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &GetPublicKeyInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOrAlias).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a GetPublicKeyInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(
            found_check(cx, cx.action, found)
                .condition_opt("kms:RequestAlias", model::request_alias(i.key_id.as_deref())),
        ))
    }

    async fn run(cx: &Cx<'_>, _: &GetPublicKeyInput, found: Found) -> Result<GetPublicKeyOutput, KmsError> {
        let key = found.into_key(cx).await?;
        usable(&key)?;
        // Symmetric and HMAC keys have no public key (AWS documents the refusal as
        // UnsupportedOperationException, not its text).
        if !(key.key_spec.is_rsa() || key.key_spec.is_ecc()) {
            return Err(KmsError::Unsupported(format!(
                "{} key spec {} has no public key.",
                key.arn,
                key.key_spec.name()
            )));
        }
        let (spec, private) = cx.services.keyring.private_key(&key).await?;
        let public = private
            .public_key_der(spec)
            .map_err(|e| KmsError::Internal(e.to_string()))?;
        let algorithms = algorithms(key.key_spec, key.key_usage);
        Ok(GetPublicKeyOutput {
            key_id: key.arn,
            public_key: b64(&public),
            customer_master_key_spec: key.key_spec.name(),
            key_spec: key.key_spec.name(),
            key_usage: key.key_usage.name(),
            encryption_algorithms: algorithms.encryption,
            signing_algorithms: algorithms.signing,
            key_agreement_algorithms: algorithms.agreement,
        })
    }
}

/// The input of Sign and Verify (Verify adds the signature).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SignInput {
    key_id: Option<String>,
    #[serde(default, deserialize_with = "kinko_wire::json::opt_blob::deserialize")]
    message: Option<Vec<u8>>,
    message_type: Option<String>,
    #[serde(default, deserialize_with = "kinko_wire::json::opt_blob::deserialize")]
    signature: Option<Vec<u8>>,
    grant_tokens: Option<Vec<String>>,
    signing_algorithm: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// `MessageType` when the request names none.
const RAW: &str = "RAW";

impl SignInput {
    fn check(&self, verify: bool) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &self.key_id);
        v.required("message", &self.message);
        v.byte_length("message", self.message.as_deref(), 1, 4096);
        v.one_of("messageType", self.message_type.as_deref(), model::MESSAGE_TYPES);
        if verify {
            v.required("signature", &self.signature);
            v.byte_length("signature", self.signature.as_deref(), 1, 6144);
        }
        v.list_length("grantTokens", self.grant_tokens.as_deref(), 0, 10);
        v.required("signingAlgorithm", &self.signing_algorithm);
        v.one_of(
            "signingAlgorithm",
            self.signing_algorithm.as_deref(),
            model::SIGNING_ALGORITHMS,
        );
        model::violations(v)
    }

    fn message_type(&self) -> &str {
        self.message_type.as_deref().unwrap_or(RAW)
    }

    fn algorithm(&self) -> &str {
        self.signing_algorithm.as_deref().unwrap_or_default()
    }

    /// `kms:<operation>` on the key, with `kms:SigningAlgorithm`, `kms:MessageType` and
    /// `kms:RequestAlias`.
    fn check_on<'a>(&'a self, cx: &'a Cx<'_>, found: &'a Found) -> Authorization<'a> {
        Authorization::of(
            found_check(cx, cx.action, found)
                .condition("kms:SigningAlgorithm", self.algorithm())
                .condition("kms:MessageType", self.message_type())
                .condition_opt("kms:RequestAlias", model::request_alias(self.key_id.as_deref())),
        )
    }

    /// The key's signing algorithm and the message as it is signed, once the key is usable for
    /// `operation`. A digest must have the algorithm's digest length.
    fn prepare(&self, key: &KmsKey, operation: &str) -> Result<(Signing, Message<'_>), KmsError> {
        usable(key)?;
        for_usage(key, KeyUsage::SignVerify, operation)?;
        let alg = model::signing_algorithm(key.key_spec, self.algorithm())?;
        let message = self.message.as_deref().unwrap_or_default();
        let message = match self.message_type() {
            RAW => Message::Raw(message),
            "DIGEST" if message.len() == alg.hash().digest_len() => Message::Digest(message),
            "DIGEST" => {
                return Err(KmsError::Validation(format!(
                    "Digest is invalid length for algorithm {}.",
                    self.algorithm()
                )));
            }
            // EXTERNAL_MU is for ML-DSA keys, which this server doesn't offer.
            other => {
                return Err(KmsError::InvalidKeyUsage(format!(
                    "Message type {other} is incompatible with algorithm {}.",
                    self.algorithm()
                )));
            }
        };
        if self.dry_run {
            return Err(KmsError::DryRun);
        }
        Ok((alg, message))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SignOutput {
    key_id: String,
    signature: String,
    signing_algorithm: String,
}

pub(crate) struct Sign;

impl Operation for Sign {
    type Service = Kms;
    const NAME: &'static str = "Sign";
    // CloudTrail shows the message type KMS used, RAW unless the request names another.
    const DEFAULT_PARAMETERS: &'static [(&'static str, &'static str)] = &[("MessageType", RAW)];
    const READ_ONLY: bool = true;
    type Input = SignInput;
    type Output = SignOutput;
    type Resolved = Found;

    fn validate(i: &SignInput) -> Result<(), KmsError> {
        i.check(false)
    }

    async fn resolve(cx: &Cx<'_>, i: &SignInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOrAlias).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a SignInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(i.check_on(cx, found))
    }

    async fn run(cx: &Cx<'_>, i: &SignInput, found: Found) -> Result<SignOutput, KmsError> {
        let key = found.into_key(cx).await?;
        let (alg, message) = i.prepare(&key, Self::NAME)?;
        let (spec, private) = cx.services.keyring.private_key(&key).await?;
        let signature = private
            .sign(spec, alg, message)
            .map_err(|e| KmsError::Internal(e.to_string()))?;
        Ok(SignOutput {
            key_id: key.arn,
            signature: b64(&signature),
            signing_algorithm: i.algorithm().to_owned(),
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct VerifyOutput {
    key_id: String,
    signature_valid: bool,
    signing_algorithm: String,
}

pub(crate) struct Verify;

impl Operation for Verify {
    type Service = Kms;
    const NAME: &'static str = "Verify";
    const DEFAULT_PARAMETERS: &'static [(&'static str, &'static str)] = &[("MessageType", RAW)];
    const READ_ONLY: bool = true;
    type Input = SignInput;
    type Output = VerifyOutput;
    type Resolved = Found;

    fn validate(i: &SignInput) -> Result<(), KmsError> {
        i.check(true)
    }

    async fn resolve(cx: &Cx<'_>, i: &SignInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOrAlias).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a SignInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(i.check_on(cx, found))
    }

    /// A signature that doesn't verify is `KMSInvalidSignatureException`: AWS never answers
    /// `SignatureValid: false`.
    async fn run(cx: &Cx<'_>, i: &SignInput, found: Found) -> Result<VerifyOutput, KmsError> {
        let key = found.into_key(cx).await?;
        let (alg, message) = i.prepare(&key, Self::NAME)?;
        let (spec, private) = cx.services.keyring.private_key(&key).await?;
        let valid = private
            .verify(spec, alg, message, i.signature.as_deref().unwrap_or_default())
            .map_err(|e| KmsError::Internal(e.to_string()))?;
        if !valid {
            return Err(KmsError::InvalidSignature);
        }
        Ok(VerifyOutput {
            key_id: key.arn,
            signature_valid: true,
            signing_algorithm: i.algorithm().to_owned(),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeriveSharedSecretInput {
    key_id: Option<String>,
    key_agreement_algorithm: Option<String>,
    #[serde(default, deserialize_with = "kinko_wire::json::opt_blob::deserialize")]
    public_key: Option<Vec<u8>>,
    grant_tokens: Option<Vec<String>>,
    #[serde(default)]
    dry_run: bool,
    recipient: Option<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeriveSharedSecretOutput {
    key_id: String,
    shared_secret: String,
    key_agreement_algorithm: &'static str,
    key_origin: &'static str,
}

/// DeriveSharedSecret: ECDH between the private key of a KEY_AGREEMENT key (a NIST curve) and
/// the peer's public key, given as DER `SubjectPublicKeyInfo`. The raw shared secret is answered
/// (KMS leaves the key derivation to the caller); it is never recorded in the audit trail.
pub(crate) struct DeriveSharedSecret;

impl Operation for DeriveSharedSecret {
    type Service = Kms;
    const NAME: &'static str = "DeriveSharedSecret";
    type Input = DeriveSharedSecretInput;
    type Output = DeriveSharedSecretOutput;
    type Resolved = Found;

    fn validate(i: &DeriveSharedSecretInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        v.required("keyAgreementAlgorithm", &i.key_agreement_algorithm);
        v.one_of(
            "keyAgreementAlgorithm",
            i.key_agreement_algorithm.as_deref(),
            &[model::ECDH],
        );
        v.required("publicKey", &i.public_key);
        v.byte_length("publicKey", i.public_key.as_deref(), 1, 8192);
        v.list_length("grantTokens", i.grant_tokens.as_deref(), 0, 10);
        model::violations(v)?;
        // The Recipient (a Nitro Enclaves attestation document) needs an enclave to attest: there
        // is none here.
        if i.recipient.is_some() {
            return Err(KmsError::Unsupported(
                "Recipient attestation documents are not supported by this server.".into(),
            ));
        }
        Ok(())
    }

    async fn resolve(cx: &Cx<'_>, i: &DeriveSharedSecretInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOrAlias).await
    }

    /// `kms:DeriveSharedSecret` on the key, with `kms:KeyAgreementAlgorithm` and
    /// `kms:RequestAlias`.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a DeriveSharedSecretInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(
            found_check(cx, cx.action, found)
                .condition("kms:KeyAgreementAlgorithm", model::ECDH)
                .condition_opt("kms:RequestAlias", model::request_alias(i.key_id.as_deref())),
        ))
    }

    async fn run(
        cx: &Cx<'_>,
        i: &DeriveSharedSecretInput,
        found: Found,
    ) -> Result<DeriveSharedSecretOutput, KmsError> {
        let key = found.into_key(cx).await?;
        usable(&key)?;
        for_usage(&key, KeyUsage::KeyAgreement, Self::NAME)?;
        if i.dry_run {
            return Err(KmsError::DryRun);
        }
        let (spec, private) = cx.services.keyring.private_key(&key).await?;
        let secret = private
            .agree(spec, i.public_key.as_deref().unwrap_or_default())
            .map_err(|e| KmsError::Internal(e.to_string()))?
            // AWS documents the requirement (a DER SubjectPublicKeyInfo of a key on the KMS key's
            // curve), not the text of its refusal.
            .ok_or_else(|| {
                KmsError::Validation(format!(
                    "PublicKey must be a DER-encoded X.509 SubjectPublicKeyInfo of an elliptic-curve key with key spec {}.",
                    key.key_spec.name()
                ))
            })?;
        Ok(DeriveSharedSecretOutput {
            key_id: key.arn,
            shared_secret: b64(&secret),
            key_agreement_algorithm: model::ECDH,
            key_origin: "AWS_KMS",
        })
    }
}

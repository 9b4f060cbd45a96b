//! GenerateMac, VerifyMac: HMAC keys (HMAC_224 to HMAC_512). Each key has one algorithm, the
//! HMAC of its spec's digest; the key never leaves the keyring.

use kinko_core::kms::{KeyUsage, KmsKey};
use kinko_crypto::asymmetric::Mac;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use crate::keyring::mac_of;
use crate::kms::model;
use crate::kms::{
    Accepts, Authorization, Cx, Found, Kms, KmsError, Operation, for_usage, found_check, resolve_key, usable,
};

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The input of GenerateMac and VerifyMac (VerifyMac adds the MAC).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MacInput {
    key_id: Option<String>,
    #[serde(default, deserialize_with = "kinko_wire::json::opt_blob::deserialize")]
    message: Option<Vec<u8>>,
    #[serde(default, deserialize_with = "kinko_wire::json::opt_blob::deserialize")]
    mac: Option<Vec<u8>>,
    mac_algorithm: Option<String>,
    grant_tokens: Option<Vec<String>>,
    #[serde(default)]
    dry_run: bool,
}

impl MacInput {
    fn check(&self, verify: bool) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &self.key_id);
        v.required("message", &self.message);
        v.byte_length("message", self.message.as_deref(), 1, 4096);
        v.required("macAlgorithm", &self.mac_algorithm);
        v.one_of(
            "macAlgorithm",
            self.mac_algorithm.as_deref(),
            model::MAC_ALGORITHMS,
        );
        if verify {
            v.required("mac", &self.mac);
            v.byte_length("mac", self.mac.as_deref(), 1, 6144);
        }
        v.list_length("grantTokens", self.grant_tokens.as_deref(), 0, 10);
        model::violations(v)
    }

    fn algorithm(&self) -> &str {
        self.mac_algorithm.as_deref().unwrap_or_default()
    }

    /// `kms:<operation>` on the key, with `kms:MacAlgorithm` and `kms:RequestAlias`.
    fn check_on<'a>(&'a self, cx: &'a Cx<'_>, found: &'a Found) -> Authorization<'a> {
        Authorization::of(
            found_check(cx, cx.action, found)
                .condition("kms:MacAlgorithm", self.algorithm())
                .condition_opt("kms:RequestAlias", model::request_alias(self.key_id.as_deref())),
        )
    }

    /// The key's HMAC, once the key is usable for `operation` with the requested algorithm.
    fn prepare(&self, key: &KmsKey, operation: &str) -> Result<Mac, KmsError> {
        usable(key)?;
        for_usage(key, KeyUsage::GenerateVerifyMac, operation)?;
        let mac = mac_of(key.key_spec)
            .filter(|_| model::algorithms(key.key_spec, key.key_usage).mac == Some(&[self.algorithm()][..]))
            .ok_or_else(|| {
                KmsError::InvalidKeyUsage(format!(
                    "Algorithm {} is incompatible with key spec {}.",
                    self.algorithm(),
                    key.key_spec.name()
                ))
            })?;
        if self.dry_run {
            return Err(KmsError::DryRun);
        }
        Ok(mac)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GenerateMacOutput {
    mac: String,
    mac_algorithm: String,
    key_id: String,
}

pub(crate) struct GenerateMac;

impl Operation for GenerateMac {
    type Service = Kms;
    const NAME: &'static str = "GenerateMac";
    const READ_ONLY: bool = true;
    type Input = MacInput;
    type Output = GenerateMacOutput;
    type Resolved = Found;

    fn validate(i: &MacInput) -> Result<(), KmsError> {
        i.check(false)
    }

    async fn resolve(cx: &Cx<'_>, i: &MacInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOrAlias).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a MacInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(i.check_on(cx, found))
    }

    async fn run(cx: &Cx<'_>, i: &MacInput, found: Found) -> Result<GenerateMacOutput, KmsError> {
        let key = found.into_key(cx).await?;
        let mac = i.prepare(&key, Self::NAME)?;
        let (_, secret) = cx.services.keyring.mac_key(&key).await?;
        let tag = mac.sign(&secret, i.message.as_deref().unwrap_or_default());
        Ok(GenerateMacOutput {
            mac: b64(&tag),
            mac_algorithm: i.algorithm().to_owned(),
            key_id: key.arn,
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct VerifyMacOutput {
    key_id: String,
    mac_valid: bool,
    mac_algorithm: String,
}

pub(crate) struct VerifyMac;

impl Operation for VerifyMac {
    type Service = Kms;
    const NAME: &'static str = "VerifyMac";
    const READ_ONLY: bool = true;
    type Input = MacInput;
    type Output = VerifyMacOutput;
    type Resolved = Found;

    fn validate(i: &MacInput) -> Result<(), KmsError> {
        i.check(true)
    }

    async fn resolve(cx: &Cx<'_>, i: &MacInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOrAlias).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a MacInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(i.check_on(cx, found))
    }

    /// A MAC that doesn't verify is `KMSInvalidMacException`: AWS never answers `MacValid: false`.
    async fn run(cx: &Cx<'_>, i: &MacInput, found: Found) -> Result<VerifyMacOutput, KmsError> {
        let key = found.into_key(cx).await?;
        let mac = i.prepare(&key, Self::NAME)?;
        let (_, secret) = cx.services.keyring.mac_key(&key).await?;
        if !mac.verify(
            &secret,
            i.message.as_deref().unwrap_or_default(),
            i.mac.as_deref().unwrap_or_default(),
        ) {
            return Err(KmsError::InvalidMac);
        }
        Ok(VerifyMacOutput {
            key_id: key.arn,
            mac_valid: true,
            mac_algorithm: i.algorithm().to_owned(),
        })
    }
}

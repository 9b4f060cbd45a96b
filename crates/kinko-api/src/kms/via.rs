//! KMS as another service calls it on its caller's behalf: Secrets Manager's data keys.
//!
//! Every call is authorized as the caller — their principal, session, tags and account — against
//! the key's policy and the caller's IAM policies, with `kms:ViaService` set to
//! `<service>.<region>.amazonaws.com`, just as AWS KMS sees a request that Secrets Manager makes for
//! its caller. Direct KMS requests never carry `kms:ViaService`, so a key policy that allows a key
//! only through Secrets Manager can't be used directly. Authorization comes before the key state,
//! as in KMS itself.

use kinko_core::kms::KmsKey;
use kinko_crypto::Key256;
use kinko_crypto::blob::EncryptionContext;
use zeroize::Zeroizing;

use super::{Accepts, Cx, KmsError, context_conditions, model, usable};
use crate::{RequestContext, Services};

/// KMS for one request another service serves.
pub struct Via<'a> {
    cx: Cx<'a>,
    /// `kms:ViaService`.
    service: String,
}

impl<'a> Via<'a> {
    /// Secrets Manager in the request's region.
    pub fn secretsmanager(services: &'a Services, rc: &'a RequestContext) -> Self {
        Via {
            service: format!("secretsmanager.{}.amazonaws.com", rc.region),
            cx: Cx { services, rc },
        }
    }

    /// Whether `key_ref` has the form of a key id, key ARN, alias name or alias ARN in this region.
    pub fn well_formed(&self, key_ref: &str) -> bool {
        self.cx.parse_key_ref(key_ref, Accepts::KeyOrAlias).is_ok()
    }

    /// The key a `KmsKeyId` names, resolved as KMS resolves it for the caller: a key id or alias
    /// name means the caller's account (so another account's key must be named by ARN).
    pub async fn key(&self, key_ref: &str) -> Result<KmsKey, KmsError> {
        match self.cx.lookup(key_ref, Accepts::KeyOrAlias).await? {
            Ok(key) => Ok(key),
            Err((not_found, _)) => Err(not_found),
        }
    }

    /// The key with this ARN (the one a stored ciphertext names).
    pub async fn key_by_arn(&self, arn: &str) -> Result<KmsKey, KmsError> {
        self.cx
            .services
            .store
            .kms_key(arn)
            .await?
            .ok_or_else(|| KmsError::NotFound(format!("Key '{arn}' does not exist")))
    }

    /// The AWS managed `aws/secretsmanager` key of the caller's account, created on first use.
    pub async fn secretsmanager_default_key(&self) -> Result<KmsKey, KmsError> {
        Ok(self
            .cx
            .services
            .keyring
            .secretsmanager_default_key(self.cx.account(), self.cx.region())
            .await?)
    }

    /// Authorizes `action` (`kms:Decrypt`, ...) on `key` for the caller through this service.
    pub async fn authorize(
        &self,
        action: &str,
        key: &KmsKey,
        context: &EncryptionContext,
    ) -> Result<(), KmsError> {
        let mut conditions = context_conditions(context);
        conditions.push(("kms:ViaService".into(), self.service.clone()));
        if matches!(action, "kms:Encrypt" | "kms:Decrypt") {
            conditions.push(("kms:EncryptionAlgorithm".into(), model::SYMMETRIC_DEFAULT.into()));
        }
        self.cx.authorize_key(action, key, &conditions, &[]).await
    }

    /// GenerateDataKey (AES_256): a fresh data key and its ciphertext blob under `key`.
    pub async fn generate_data_key(
        &self,
        key: &KmsKey,
        context: &EncryptionContext,
    ) -> Result<(Key256, Vec<u8>), KmsError> {
        self.authorize("kms:GenerateDataKey", key, context).await?;
        usable(key)?;
        Ok(self.cx.services.keyring.generate_data_key(key, context).await?)
    }

    /// Encrypt: `plaintext` under `key`.
    pub async fn encrypt(
        &self,
        key: &KmsKey,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>, KmsError> {
        self.authorize("kms:Encrypt", key, context).await?;
        usable(key)?;
        Ok(self
            .cx
            .services
            .keyring
            .encrypt_with(key, plaintext, context)
            .await?)
    }

    /// Decrypt: a blob made under `key`.
    pub async fn decrypt(
        &self,
        key: &KmsKey,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        self.authorize("kms:Decrypt", key, context).await?;
        usable(key)?;
        Ok(self
            .cx
            .services
            .keyring
            .decrypt_with(key, ciphertext, context)
            .await?)
    }
}

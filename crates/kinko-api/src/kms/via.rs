//! KMS as another service calls it on its caller's behalf: Secrets Manager's data keys.
//!
//! Every call is authorized as the caller — their principal, session, tags and account — through
//! the one authorization path ([`Cx::authorize`]) with the check a direct KMS request on the key
//! makes ([`super::key_check`]: the key policy, the caller's IAM policies, the access rules) and
//! `kms:ViaService` set to `<service>.<region>.amazonaws.com`, just as AWS KMS sees a request that
//! Secrets Manager makes for its caller, and as a forward access session: `aws:ViaAWSService` is
//! true and `aws:CalledVia` names the service. Direct KMS requests never carry `kms:ViaService`,
//! so a key policy that allows a key only through Secrets Manager can't be used directly.
//! Authorization comes before the key state, as in KMS itself.
//!
//! Each GenerateDataKey, Encrypt and Decrypt, allowed, denied or failed, is noted in the request's
//! [`crate::KmsCalls`] for the audit log, as AWS records it in CloudTrail: `kms.amazonaws.com`, the
//! caller's identity `invokedBy` the service, the key and the encryption context. [`Via::authorize`]
//! alone is a permission check, not a KMS call, and leaves no record.

use kinko_core::Timestamp;
use kinko_core::kms::KmsKey;
use kinko_crypto::Key256;
use kinko_crypto::blob::EncryptionContext;
use zeroize::Zeroizing;

use super::{
    Accepts, Found, KmsError, context_names, find_in, key_check, model, parse_key_ref, symmetric_only,
    usable, with_context,
};
use crate::operation::Cx;
use crate::{KmsCall, KmsOperation};

/// KMS for one request another service serves.
pub struct Via<'a> {
    /// The other service's operation: its caller, authorized through the one authorization path.
    cx: &'a Cx<'a>,
    /// `kms:ViaService`.
    service: String,
    /// The audit records' `invokedBy`.
    invoked_by: &'static str,
    /// The region whose keys the service uses (a replica's region for its replica).
    region: String,
}

impl<'a> Via<'a> {
    /// Secrets Manager, serving `cx`, in the request's region.
    pub fn secretsmanager(cx: &'a Cx<'a>) -> Self {
        Self::secretsmanager_in(cx, cx.region())
    }

    /// Secrets Manager in `region`, serving `cx`: the keys of that region, as Secrets Manager
    /// there uses them for a replica (`kms:ViaService` names that region's endpoint).
    pub fn secretsmanager_in(cx: &'a Cx<'a>, region: &str) -> Self {
        Via {
            service: format!("secretsmanager.{region}.amazonaws.com"),
            invoked_by: "secretsmanager.amazonaws.com",
            region: region.to_owned(),
            cx,
        }
    }

    /// Whether `key_ref` has the form of a key id, key ARN, alias name or alias ARN in this region.
    pub fn well_formed(&self, key_ref: &str) -> bool {
        parse_key_ref(self.cx.account(), &self.region, key_ref, Accepts::KeyOrAlias).is_ok()
    }

    /// The key a `KmsKeyId` names, resolved as KMS resolves it for the caller: a key id or alias
    /// name means the caller's account (so another account's key must be named by ARN). The AWS
    /// managed `alias/aws/secretsmanager` key is created on first use.
    pub async fn key(&self, key_ref: &str) -> Result<KmsKey, KmsError> {
        let parsed = parse_key_ref(self.cx.account(), &self.region, key_ref, Accepts::KeyOrAlias)?;
        match find_in(self.cx, &self.region, parsed).await? {
            Found::Key(key) => Ok(key),
            Found::NewAwsManaged(_) => self.secretsmanager_default_key().await,
            Found::Missing { error, .. } => Err(error),
        }
    }

    /// The key with this ARN (the one a stored ciphertext names).
    pub async fn key_by_arn(&self, arn: &str) -> Result<KmsKey, KmsError> {
        self.cx
            .services
            .store
            .kms_key(arn)
            .await?
            .map(|k| k.at(self.cx.now()))
            .ok_or_else(|| KmsError::NotFound(format!("Key '{arn}' does not exist")))
    }

    /// The AWS managed `aws/secretsmanager` key of the caller's account, created on first use.
    pub async fn secretsmanager_default_key(&self) -> Result<KmsKey, KmsError> {
        Ok(self
            .cx
            .services
            .keyring
            .secretsmanager_default_key(self.cx.account(), &self.region)
            .await?)
    }

    /// Authorizes `action` (`kms:Decrypt`, ...) on `key` for the caller through this service: the
    /// check a direct request makes (`key_check`, the encryption context), with
    /// `kms:ViaService`.
    pub async fn authorize(
        &self,
        action: &str,
        key: &KmsKey,
        context: &EncryptionContext,
    ) -> Result<(), KmsError> {
        let names = context_names(context);
        Ok(self
            .cx
            .authorize(&self.check(action, key, context, &names))
            .await?)
    }

    /// The check of `action` on `key` through this service, with `context` (its
    /// [`context_names`] are `names`): what [`Via::authorize`] decides.
    pub(crate) fn check<'b>(
        &'b self,
        action: &'b str,
        key: &'b KmsKey,
        context: &'b EncryptionContext,
        names: &'b [String],
    ) -> crate::authz::Check<'b> {
        let mut check = with_context(key_check(self.cx.account(), action, key), context, names)
            .condition("kms:ViaService", self.service.as_str())
            .called_via(self.invoked_by);
        if matches!(action, "kms:Encrypt" | "kms:Decrypt") {
            check = check.condition("kms:EncryptionAlgorithm", model::SYMMETRIC_DEFAULT);
        }
        check
    }

    /// GenerateDataKey (AES_256): a fresh data key and its ciphertext blob under `key`.
    pub async fn generate_data_key(
        &self,
        key: &KmsKey,
        context: &EncryptionContext,
    ) -> Result<(Key256, Vec<u8>), KmsError> {
        let time = self.cx.now();
        let result = async {
            self.authorize("kms:GenerateDataKey", key, context).await?;
            usable(key)?;
            symmetric_only(key, "GenerateDataKey")?;
            Ok(self.cx.services.keyring.generate_data_key(key, context).await?)
        }
        .await;
        self.note(
            time,
            KmsOperation::GenerateDataKey,
            key,
            context,
            result.as_ref().err(),
        );
        result
    }

    /// Encrypt: `plaintext` under `key`.
    pub async fn encrypt(
        &self,
        key: &KmsKey,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>, KmsError> {
        let time = self.cx.now();
        let result = async {
            self.authorize("kms:Encrypt", key, context).await?;
            usable(key)?;
            symmetric_only(key, "Encrypt")?;
            Ok(self
                .cx
                .services
                .keyring
                .encrypt_with(key, plaintext, context)
                .await?)
        }
        .await;
        self.note(time, KmsOperation::Encrypt, key, context, result.as_ref().err());
        result
    }

    /// Decrypt: a blob made under `key`.
    pub async fn decrypt(
        &self,
        key: &KmsKey,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let time = self.cx.now();
        let result = async {
            self.authorize("kms:Decrypt", key, context).await?;
            usable(key)?;
            symmetric_only(key, "Decrypt")?;
            Ok(self
                .cx
                .services
                .keyring
                .decrypt_with(key, ciphertext, context)
                .await?)
        }
        .await;
        self.note(time, KmsOperation::Decrypt, key, context, result.as_ref().err());
        result
    }

    /// Notes a call for the request's audit records: the key, the context and the outcome, nothing
    /// that was encrypted or decrypted.
    fn note(
        &self,
        event_time: Timestamp,
        operation: KmsOperation,
        key: &KmsKey,
        context: &EncryptionContext,
        error: Option<&KmsError>,
    ) {
        self.cx.rc.kms_calls.push(KmsCall {
            event_time,
            operation,
            invoked_by: self.invoked_by,
            key_arn: key.arn.clone(),
            encryption_context: context.clone(),
            error_code: error.map(KmsError::code),
            // Internal failures are logged with their detail by the service; the record keeps the code.
            // Some errors (InvalidCiphertextException) have no message.
            error_message: error.and_then(|e| match e {
                KmsError::Internal(_) | KmsError::Conflict => None,
                e => Some(e.to_string()).filter(|m| !m.is_empty()),
            }),
        });
    }
}

//! Envelope encryption through KMS key records: generating and decrypting data keys under a KMS key
//! whose material is stored wrapped by the root key.
//!
//! Unwrapped key material is cached in memory (material versions never change once written, so the
//! cache is correct across nodes); key metadata, which can change, is read on every use.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use kinko_core::Clock;
use kinko_core::kms::{
    self, KeyManager, KeyRotation, KeySpec, KeyState, KmsKey, RotationType, WrappedMaterial,
};
use kinko_core::store::{Store, StoreError};
use kinko_crypto::asymmetric::{Mac, PrivateKey, Spec};
use kinko_crypto::blob::{self, EncryptionContext};
use kinko_crypto::{Key256, SharedRootKey};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("key not found")]
    NotFound,
    #[error("key is {0:?}")]
    InvalidState(KeyState),
    #[error("invalid ciphertext")]
    InvalidCiphertext,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("crypto failure: {0}")]
    Crypto(String),
    /// An import of key material other than the material the key had.
    #[error("incorrect key material")]
    IncorrectMaterial,
}

pub struct Keyring {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    root: SharedRootKey,
    materials: RwLock<HashMap<(String, u32), Key256>>,
}

/// The associated data KMS key material is wrapped with under the root key.
pub fn material_aad(key_arn: &str, version: u32) -> Vec<u8> {
    kinko_crypto::encode_aad(&[key_arn.as_bytes(), version.to_string().as_bytes()])
}

/// The associated data of a private wrapping key sealed into an import token.
fn wrapping_key_aad(key_arn: &str, header: &[u8]) -> Vec<u8> {
    kinko_crypto::encode_aad(&[b"kms import token", key_arn.as_bytes(), header])
}

/// The key policy AWS gives `aws/secretsmanager`: every principal of the account may use the key,
/// but only through Secrets Manager in that region.
fn secretsmanager_key_policy(account_id: &str, region: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "auto-secretsmanager-2",
        "Statement": [
            {
                "Sid": "Allow access through AWS Secrets Manager for all principals in the account that are authorized to use AWS Secrets Manager",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": format!("secretsmanager.{region}.amazonaws.com"),
                        "kms:CallerAccount": account_id
                    }
                }
            },
            {
                "Sid": "Allow access through AWS Secrets Manager for all principals in the account that are authorized to use AWS Secrets Manager",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": account_id},
                    "StringLike": {"kms:ViaService": format!("secretsmanager.{region}.amazonaws.com")}
                }
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account_id}:root")},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*"
            }
        ]
    })
    .to_string()
}

/// The key pair kind of an asymmetric key spec.
pub fn asymmetric_spec(spec: KeySpec) -> Option<Spec> {
    Some(match spec {
        KeySpec::Rsa2048 => Spec::Rsa2048,
        KeySpec::Rsa3072 => Spec::Rsa3072,
        KeySpec::Rsa4096 => Spec::Rsa4096,
        KeySpec::EccNistP256 => Spec::EccNistP256,
        KeySpec::EccNistP384 => Spec::EccNistP384,
        KeySpec::EccNistP521 => Spec::EccNistP521,
        KeySpec::EccSecgP256k1 => Spec::EccSecgP256k1,
        KeySpec::SymmetricDefault
        | KeySpec::Hmac224
        | KeySpec::Hmac256
        | KeySpec::Hmac384
        | KeySpec::Hmac512 => return None,
    })
}

/// The HMAC algorithm of an HMAC key spec.
pub fn mac_of(spec: KeySpec) -> Option<Mac> {
    Some(match spec {
        KeySpec::Hmac224 => Mac::Sha224,
        KeySpec::Hmac256 => Mac::Sha256,
        KeySpec::Hmac384 => Mac::Sha384,
        KeySpec::Hmac512 => Mac::Sha512,
        _ => return None,
    })
}

impl Keyring {
    /// `root` is a `RootKey`, or a `SharedRootKey` whose clone the server keeps to rotate it.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, root: impl Into<SharedRootKey>) -> Self {
        Keyring {
            store,
            clock,
            root: root.into(),
            materials: RwLock::new(HashMap::new()),
        }
    }

    /// The root key: seals with the current key, opens under it or the other key held around a
    /// rotation (unwrapped material stays valid across rotations: the material doesn't change).
    pub fn root(&self) -> &SharedRootKey {
        &self.root
    }

    /// The AWS managed `aws/secretsmanager` key of an account and region, created on first use.
    pub async fn secretsmanager_default_key(
        &self,
        account_id: &str,
        region: &str,
    ) -> Result<KmsKey, KeyringError> {
        for _ in 0..3 {
            if let Some(arn) = self
                .store
                .kms_alias_target(account_id, region, kms::SECRETSMANAGER_ALIAS)
                .await?
            {
                return self.store.kms_key(&arn).await?.ok_or(KeyringError::NotFound);
            }
            let key = self.new_secretsmanager_default_key(account_id, region);
            match self.create_secretsmanager_default_key(key.clone()).await {
                Ok(()) => return Ok(key),
                // Another request created it first: read theirs.
                Err(KeyringError::Store(StoreError::Conflict)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(KeyringError::Store(StoreError::Conflict))
    }

    /// The AWS managed `aws/secretsmanager` key an account and region get on first use, not
    /// stored yet (see [`Self::create_secretsmanager_default_key`]).
    pub fn new_secretsmanager_default_key(&self, account_id: &str, region: &str) -> KmsKey {
        let key_id = uuid::Uuid::new_v4().to_string();
        let now = self.clock.now();
        KmsKey {
            arn: kms::key_arn(region, account_id, &key_id),
            key_id,
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            description: "Default key that protects my Secrets Manager data when no other key is defined"
                .into(),
            key_spec: kinko_core::kms::KeySpec::SymmetricDefault,
            key_usage: kinko_core::kms::KeyUsage::EncryptDecrypt,
            key_manager: KeyManager::Aws,
            key_state: KeyState::Enabled,
            creation_date: now,
            policy: secretsmanager_key_policy(account_id, region),
            policy_principals: vec![],
            current_material: 1,
            deletion_date: None,
            tags: vec![],
            rotation_period_days: Some(365),
            material_date: Some(now),
            rotations: vec![],
            grants: vec![],
            external: None,
            multi_region: None,
            revision: 0,
        }
    }

    /// Stores a key made by [`Self::new_secretsmanager_default_key`] with its alias. `Conflict`
    /// when the account and region have one already.
    pub async fn create_secretsmanager_default_key(&self, key: KmsKey) -> Result<(), KeyringError> {
        self.create_key(key, Some(kms::SECRETSMANAGER_ALIAS.to_owned()))
            .await
    }

    async fn material(&self, key_arn: &str, version: u32) -> Result<Key256, KeyringError> {
        // Version 0 of a key for imported material holds nothing: a blob naming it is no
        // ciphertext of the key.
        if version == 0 {
            return Err(KeyringError::InvalidCiphertext);
        }
        if let Ok(cache) = self.materials.read()
            && let Some(k) = cache.get(&(key_arn.to_owned(), version))
        {
            return Ok(k.clone());
        }
        let wrapped = self
            .store
            .kms_material(key_arn, version)
            .await?
            .ok_or(KeyringError::InvalidCiphertext)?;
        let bytes = self
            .root
            .open(&wrapped.wrapped, &material_aad(key_arn, version))
            .map_err(|e| KeyringError::Crypto(e.to_string()))?;
        let key = Key256::from_bytes(&bytes).map_err(|e| KeyringError::Crypto(e.to_string()))?;
        if let Ok(mut cache) = self.materials.write() {
            cache.insert((key_arn.to_owned(), version), key.clone());
        }
        Ok(key)
    }

    /// A fresh 256-bit data key and its ciphertext blob under `key`, with `context` bound in.
    pub async fn generate_data_key(
        &self,
        key: &KmsKey,
        context: &EncryptionContext,
    ) -> Result<(Key256, Vec<u8>), KeyringError> {
        if key.key_state != KeyState::Enabled {
            return Err(KeyringError::InvalidState(key.key_state));
        }
        let material = self.material(&key.arn, key.current_material).await?;
        let data_key = Key256::generate().map_err(|e| KeyringError::Crypto(e.to_string()))?;
        let blob = blob::encrypt(
            &key.key_id,
            key.current_material,
            &material,
            data_key.as_bytes(),
            context,
        )
        .map_err(|e| KeyringError::Crypto(e.to_string()))?;
        Ok((data_key, blob))
    }

    /// Fresh key material for version `version` of `key_arn`, a key of `spec`, wrapped by the
    /// root key: 32 random bytes, a PKCS #8 private key, or an HMAC key.
    fn new_material(
        &self,
        key_arn: &str,
        version: u32,
        spec: KeySpec,
    ) -> Result<WrappedMaterial, KeyringError> {
        let crypto = |e: kinko_crypto::CryptoError| KeyringError::Crypto(e.to_string());
        let material: Zeroizing<Vec<u8>> = if let Some(spec) = asymmetric_spec(spec) {
            Zeroizing::new(PrivateKey::generate(spec).map_err(crypto)?.pkcs8().to_vec())
        } else if let Some(mac) = mac_of(spec) {
            Self::random(mac.key_len())?
        } else {
            Zeroizing::new(Key256::generate().map_err(crypto)?.as_bytes().to_vec())
        };
        let wrapped = self
            .root
            .seal(&material, &material_aad(key_arn, version))
            .map_err(|e| KeyringError::Crypto(e.to_string()))?;
        Ok(WrappedMaterial {
            key_arn: key_arn.to_owned(),
            version,
            wrapped,
        })
    }

    /// Stores a new key (its `current_material` is 1) with fresh material. `Conflict` when an
    /// alias or the key exists.
    pub async fn create_key(&self, key: KmsKey, alias: Option<String>) -> Result<(), KeyringError> {
        let material = if key.external.is_some() {
            // A key for imported material gets its material from ImportKeyMaterial: version 0
            // holds nothing.
            self.wrap_material(&key.arn, key.current_material, &[])?
        } else {
            self.new_material(&key.arn, key.current_material, key.key_spec)?
        };
        self.store.create_kms_key(key, material, alias).await?;
        Ok(())
    }

    fn wrap_material(
        &self,
        key_arn: &str,
        version: u32,
        material: &[u8],
    ) -> Result<WrappedMaterial, KeyringError> {
        let wrapped = self
            .root
            .seal(material, &material_aad(key_arn, version))
            .map_err(|e| KeyringError::Crypto(e.to_string()))?;
        Ok(WrappedMaterial {
            key_arn: key_arn.to_owned(),
            version,
            wrapped,
        })
    }

    /// Imports `material` into `key` (of imported material) and makes it usable: `next` is the key
    /// as it is to be written (its state, expiry), based on `key.revision`. The first import
    /// stores the material as version 1; a later one must bring the same bytes
    /// (`IncorrectMaterial`), which the key still holds wrapped, so nothing but the key changes
    /// and ciphertexts made before decrypt again. Returns the key as stored.
    pub async fn import_material(&self, mut next: KmsKey, material: &[u8]) -> Result<KmsKey, KeyringError> {
        let imported = next.external.as_ref().is_some_and(|e| e.imported);
        if imported {
            let stored = self.raw_material(&next).await?;
            if !kinko_crypto::constant_time_eq(&stored, material) {
                return Err(KeyringError::IncorrectMaterial);
            }
            self.store.update_kms_key(next.clone()).await?;
        } else {
            next.current_material = next
                .current_material
                .checked_add(1)
                .ok_or_else(|| KeyringError::Crypto("material versions exhausted".into()))?;
            if let Some(e) = next.external.as_mut() {
                e.imported = true;
            }
            let wrapped = self.wrap_material(&next.arn, next.current_material, material)?;
            self.store.add_kms_material(next.clone(), wrapped).await?;
        }
        next.revision += 1;
        Ok(next)
    }

    /// Seals the private wrapping key of GetParametersForImport under the root key, bound to the
    /// key ARN and the token's `header` (its algorithm, key spec and expiry): it travels inside
    /// the import token and is never stored.
    pub fn seal_wrapping_key(
        &self,
        key_arn: &str,
        header: &[u8],
        private: &[u8],
    ) -> Result<Vec<u8>, KeyringError> {
        self.root
            .seal(private, &wrapping_key_aad(key_arn, header))
            .map_err(|e| KeyringError::Crypto(e.to_string()))
    }

    /// Opens what [`Self::seal_wrapping_key`] sealed; `None` when it wasn't sealed for this key
    /// and header (or under a root key this server no longer holds).
    pub fn open_wrapping_key(
        &self,
        key_arn: &str,
        header: &[u8],
        sealed: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        self.root.open(sealed, &wrapping_key_aad(key_arn, header)).ok()
    }

    /// Gives `key` a new material version that new ciphertexts use from now on; ciphertexts made
    /// under earlier versions keep decrypting (they name their version). Records the rotation; an
    /// automatic one restarts the automatic schedule, an on-demand one leaves it (as AWS does).
    /// Written based on `key.revision`; returns the key as stored.
    pub async fn rotate(&self, key: &KmsKey, rotation_type: RotationType) -> Result<KmsKey, KeyringError> {
        let now = self.clock.now();
        let mut next = key.clone();
        next.current_material = key
            .current_material
            .checked_add(1)
            .ok_or_else(|| KeyringError::Crypto("material versions exhausted".into()))?;
        if rotation_type == RotationType::Automatic {
            next.material_date = Some(now);
        }
        next.rotations.push(KeyRotation {
            material: next.current_material,
            date: now,
            rotation_type,
        });
        let material = self.new_material(&key.arn, next.current_material, key.key_spec)?;
        self.store.add_kms_material(next.clone(), material).await?;
        next.revision += 1;
        self.copy_to_replicas(&next, next.current_material).await?;
        Ok(next)
    }

    /// A multi-Region primary key's new material version, copied to each of its replicas (which
    /// never make material of their own), recorded there as the same rotation. A replica that
    /// is gone is skipped.
    async fn copy_to_replicas(&self, primary: &KmsKey, version: u32) -> Result<(), KeyringError> {
        let Some(m) = primary.multi_region.as_ref() else {
            return Ok(());
        };
        for region in &m.replica_regions {
            let arn = kms::key_arn(region, &primary.account_id, &primary.key_id);
            // A concurrent change of the replica (its description, state, ...) is retried.
            for _ in 0..5 {
                let Some(mut replica) = self.store.kms_key(&arn).await? else {
                    break;
                };
                if replica.current_material >= version {
                    break;
                }
                replica.current_material = version;
                if let Some(r) = primary.rotations.iter().find(|r| r.material == version) {
                    replica.rotations.push(r.clone());
                }
                let material = self.copy_material(primary, &arn, version).await?;
                match self.store.add_kms_material(replica, material).await {
                    Err(StoreError::Conflict) => continue,
                    other => {
                        other?;
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Version `version` of `from`'s material, wrapped for the key `to_arn` (a related
    /// multi-Region key).
    async fn copy_material(
        &self,
        from: &KmsKey,
        to_arn: &str,
        version: u32,
    ) -> Result<WrappedMaterial, KeyringError> {
        let wrapped = self
            .store
            .kms_material(&from.arn, version)
            .await?
            .ok_or_else(|| KeyringError::Crypto(format!("material version {version} missing")))?;
        let bytes = self
            .root
            .open(&wrapped.wrapped, &material_aad(&from.arn, version))
            .map_err(|e| KeyringError::Crypto(e.to_string()))?;
        self.wrap_material(to_arn, version, &bytes)
    }

    /// After a multi-Region key was deleted: the related keys forget it.
    pub async fn forget_related(&self, deleted: &KmsKey) -> Result<(), KeyringError> {
        let Some(m) = deleted.multi_region.as_ref() else {
            return Ok(());
        };
        for region in m.regions().filter(|r| *r != deleted.region) {
            let arn = kms::key_arn(region, &deleted.account_id, &deleted.key_id);
            for _ in 0..5 {
                let Some(mut related) = self.store.kms_key(&arn).await? else {
                    break;
                };
                if let Some(rm) = related.multi_region.as_mut() {
                    rm.replica_regions.retain(|r| *r != deleted.region);
                }
                match self.store.update_kms_key(related).await {
                    Err(StoreError::Conflict) => continue,
                    other => {
                        other?;
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Stores `replica`, a new replica of the multi-Region key `primary` (same key id and
    /// `current_material`), with a copy of every material version of the primary, so that
    /// ciphertexts of any related key decrypt with it. `Conflict` when it exists.
    pub async fn create_replica(
        &self,
        primary: &KmsKey,
        mut replica: KmsKey,
    ) -> Result<KmsKey, KeyringError> {
        let first = self.copy_material(primary, &replica.arn, 1).await?;
        self.store.create_kms_key(replica.clone(), first, None).await?;
        replica.revision = 1;
        for version in 2..=primary.current_material {
            let material = self.copy_material(primary, &replica.arn, version).await?;
            self.store.add_kms_material(replica.clone(), material).await?;
            replica.revision += 1;
        }
        Ok(replica)
    }

    /// Encrypts up to 4096 bytes under the current material of `key`, binding `context`. Checks no
    /// key state: the caller has.
    pub async fn encrypt_with(
        &self,
        key: &KmsKey,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>, KeyringError> {
        let material = self.material(&key.arn, key.current_material).await?;
        blob::encrypt(&key.key_id, key.current_material, &material, plaintext, context)
            .map_err(|e| KeyringError::Crypto(e.to_string()))
    }

    /// Decrypts a blob made under `key` (any of its material versions) with the same `context`.
    /// Checks no key state: the caller has.
    pub async fn decrypt_with(
        &self,
        key: &KmsKey,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        let header = blob::header(ciphertext).map_err(|_| KeyringError::InvalidCiphertext)?;
        if header.key_id != key.key_id {
            return Err(KeyringError::InvalidCiphertext);
        }
        let material = self.material(&key.arn, header.material_version).await?;
        blob::decrypt(ciphertext, &material, context).map_err(|_| KeyringError::InvalidCiphertext)
    }

    /// The material of an asymmetric or HMAC key, unwrapped (such keys have one material: they
    /// don't rotate). Not cached: parsing it costs little beside the operation it serves.
    async fn raw_material(&self, key: &KmsKey) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        let wrapped = self
            .store
            .kms_material(&key.arn, key.current_material)
            .await?
            .ok_or_else(|| KeyringError::Crypto("a key without material".into()))?;
        self.root
            .open(&wrapped.wrapped, &material_aad(&key.arn, key.current_material))
            .map_err(|e| KeyringError::Crypto(e.to_string()))
    }

    /// The private key of an asymmetric `key`, and its spec.
    pub async fn private_key(&self, key: &KmsKey) -> Result<(Spec, PrivateKey), KeyringError> {
        let spec = asymmetric_spec(key.key_spec)
            .ok_or_else(|| KeyringError::Crypto("not an asymmetric key".into()))?;
        Ok((spec, PrivateKey::from_pkcs8(&self.raw_material(key).await?)))
    }

    /// The HMAC key of an HMAC `key`, and its algorithm.
    pub async fn mac_key(&self, key: &KmsKey) -> Result<(Mac, Zeroizing<Vec<u8>>), KeyringError> {
        let mac = mac_of(key.key_spec).ok_or_else(|| KeyringError::Crypto("not an HMAC key".into()))?;
        Ok((mac, self.raw_material(key).await?))
    }

    /// `n` random bytes (data keys, GenerateRandom).
    pub fn random(n: usize) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        kinko_crypto::random_bytes(n)
            .map(Zeroizing::new)
            .map_err(|e| KeyringError::Crypto(e.to_string()))
    }
}

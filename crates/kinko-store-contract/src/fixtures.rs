//! Domain values the contract tests store: built from `kinko-core` types only.

use std::future::Future;

use kinko_core::Timestamp;
use kinko_core::iam::{IamState, User};
use kinko_core::kms::{KeyManager, KeyState, KmsAlias, KmsKey, WrappedMaterial};
use kinko_core::mfa::MfaDevice;
use kinko_core::organizations::{OrgAccount, Organization};
use kinko_core::principal::{AccessKeyRecord, AccessKeyStatus, Principal, PrincipalKind};
use kinko_core::secret::{Secret, ValueKind};
use kinko_core::store::{Account, SealedValue, StoreError};

pub const ACCOUNT: &str = "111122223333";
pub const MEMBER: &str = "444455556666";
pub const REGION: &str = "us-east-1";
/// When the fixtures were made.
pub const T0: i64 = 1_700_000_000_000;
pub const DAY_MS: i64 = 86_400_000;

pub fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

pub fn secret_arn(name: &str) -> String {
    format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf")
}

/// Distinct two-letter words, from the `skip`th on, joined by spaces into exactly `length`
/// characters, the last one lengthened with `z`s to fill: a filter value with as many words as
/// its length allows, whose last word is no other word's prefix.
pub fn words_filling(skip: usize, length: usize) -> String {
    let letters = || b'a'..=b'z';
    let words = letters().flat_map(|x| letters().map(move |y| format!("{}{}", char::from(x), char::from(y))));
    let mut out = String::new();
    for word in words.skip(skip) {
        // Room for the word, its space and at least one `z`.
        if out.len() + word.len() + 2 > length {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
    }
    let short = length - out.len();
    out + &"z".repeat(short)
}

/// A secret with no version yet, created at `T0 + created`.
pub fn bare_secret(name: &str, created: i64) -> Secret {
    Secret {
        arn: secret_arn(name),
        name: name.to_owned(),
        account_id: ACCOUNT.to_owned(),
        region: REGION.to_owned(),
        description: None,
        kms_key_id: None,
        tags: None,
        resource_policy: None,
        resource_policy_principals: vec![],
        secret_type: None,
        created_date: at(T0 + created),
        last_changed_date: at(T0 + created),
        last_accessed_date: None,
        deleted_date: None,
        deletion_date: None,
        rotation: None,
        last_rotated_date: None,
        primary_region: None,
        replicas: vec![],
        versions: Vec::new(),
        revision: 0,
    }
}

pub fn sealed(tag: &str) -> SealedValue {
    SealedValue {
        encrypted_data_key: format!("key-{tag}").into_bytes(),
        ciphertext: format!("value-{tag}").into_bytes(),
    }
}

/// A secret with its first version `v1` (AWSCURRENT), and that version's value.
pub fn secret(name: &str) -> (Secret, Vec<(String, SealedValue)>) {
    let mut s = bare_secret(name, 0);
    add_version(&mut s, "v1");
    (s, vec![("v1".to_owned(), sealed(&format!("{name}-v1")))])
}

/// Adds a version holding a value, made AWSCURRENT (as PutSecretValue does).
pub fn add_version(s: &mut Secret, id: &str) {
    s.add_version(id, None, Some(ValueKind::String), None, at(T0))
        .expect("a new version");
}

pub fn kms_key(id: &str) -> KmsKey {
    KmsKey {
        key_id: id.to_owned(),
        arn: format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{id}"),
        account_id: ACCOUNT.to_owned(),
        region: REGION.to_owned(),
        description: String::new(),
        key_spec: kinko_core::kms::KeySpec::SymmetricDefault,
        key_usage: kinko_core::kms::KeyUsage::EncryptDecrypt,
        key_manager: KeyManager::Customer,
        key_state: KeyState::Enabled,
        creation_date: at(T0),
        policy: "{}".to_owned(),
        policy_principals: vec![],
        current_material: 1,
        deletion_date: None,
        tags: vec![],
        rotation_period_days: None,
        material_date: None,
        rotations: vec![],
        grants: vec![],
        external: None,
        multi_region: None,
        revision: 0,
    }
}

pub fn material(k: &KmsKey, version: u32, wrapped: &str) -> WrappedMaterial {
    WrappedMaterial {
        key_arn: k.arn.clone(),
        version,
        wrapped: wrapped.as_bytes().to_vec(),
    }
}

pub fn alias(name: &str, target: &str) -> KmsAlias {
    KmsAlias {
        account_id: ACCOUNT.to_owned(),
        region: REGION.to_owned(),
        alias_name: name.to_owned(),
        target_arn: target.to_owned(),
        creation_date: at(T0),
        last_updated_date: at(T0),
    }
}

pub fn user(name: &str) -> User {
    User {
        name: name.to_owned(),
        path: "/".to_owned(),
        user_id: format!("AIDA{}", name.to_ascii_uppercase()),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        create_date: at(T0),
        tags: vec![],
        inline_policies: vec![],
        attached_policies: vec![],
        permissions_boundary: None,
        groups: vec![],
        login_profile: None,
        ssh_public_keys: Vec::new(),
        signing_certificates: Vec::new(),
    }
}

pub fn user_names(s: &IamState) -> Vec<String> {
    let mut names: Vec<String> = s.users.iter().map(|u| u.name.clone()).collect();
    names.sort();
    names
}

pub fn account(id: &str, name: &str) -> Account {
    Account {
        account_id: id.to_owned(),
        name: name.to_owned(),
        email: format!("{name}@example.com"),
        created_date: at(T0),
    }
}

pub fn org_account(id: &str) -> OrgAccount {
    OrgAccount {
        id: id.to_owned(),
        arn: format!("arn:aws:organizations::{ACCOUNT}:account/o-abcdefghij/{id}"),
        name: id.to_owned(),
        email: format!("{id}@example.com"),
        status: "ACTIVE".to_owned(),
        joined_method: "CREATED".to_owned(),
        joined_timestamp: at(T0),
        tags: vec![],
    }
}

pub fn organization() -> Organization {
    Organization {
        id: "o-abcdefghij".to_owned(),
        arn: Organization::organization_arn(ACCOUNT, "o-abcdefghij"),
        master_account_id: ACCOUNT.to_owned(),
        master_account_email: "root@example.com".to_owned(),
        feature_set: "ALL".to_owned(),
        root_id: "r-abcd".to_owned(),
        accounts: vec![org_account(ACCOUNT)],
        create_account_requests: vec![],
        revision: 0,
    }
}

pub fn access_key(id: &str, user: Option<&str>, sealed: &str) -> AccessKeyRecord {
    let principal = match user {
        None => Principal::root(ACCOUNT),
        Some(name) => Principal {
            account_id: ACCOUNT.to_owned(),
            arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
            kind: PrincipalKind::User {
                name: name.to_owned(),
                user_id: format!("AIDA{}", name.to_ascii_uppercase()),
            },
        },
    };
    AccessKeyRecord {
        access_key_id: id.to_owned(),
        principal,
        status: AccessKeyStatus::Active,
        sealed_secret: sealed.as_bytes().to_vec(),
        created_date: at(T0),
    }
}

/// A virtual MFA device `name` at `/` in `account`, unassigned, with `sealed` as its sealed seed.
pub fn mfa_device(account: &str, name: &str, sealed: &str) -> MfaDevice {
    MfaDevice {
        account_id: account.to_owned(),
        serial_number: MfaDevice::serial_number_of(account, "/", name),
        name: name.to_owned(),
        path: "/".to_owned(),
        sealed_seed: sealed.as_bytes().to_vec(),
        user_name: None,
        root: false,
        enable_date: None,
        create_date: at(T0),
        tags: vec![kinko_core::secret::Tag {
            key: "team".to_owned(),
            value: "ops".to_owned(),
        }],
        last_step: 0,
        revision: 0,
    }
}

/// Most attempts a concurrent writer makes before the test gives up on it.
const MAX_ATTEMPTS: usize = 10_000;

/// Runs a read-modify-write until it is not refused with `Conflict`, as the services do.
pub async fn retry<F, Fut>(mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), StoreError>>,
{
    for _ in 0..MAX_ATTEMPTS {
        match attempt().await {
            Ok(()) => return,
            Err(StoreError::Conflict) => tokio::task::yield_now().await,
            Err(e) => panic!("write failed: {e}"),
        }
    }
    panic!("write still conflicting after {MAX_ATTEMPTS} attempts");
}

pub fn is_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict))
}

pub fn function_config(version: &str, sha: &str, revision_id: &str) -> kinko_core::lambda::FunctionConfig {
    kinko_core::lambda::FunctionConfig {
        version: version.to_owned(),
        runtime: "python3.12".to_owned(),
        handler: "index.handler".to_owned(),
        role: format!("arn:aws:iam::{ACCOUNT}:role/fn"),
        description: String::new(),
        timeout: 3,
        memory_size: 128,
        environment: [("A".to_owned(), "1".to_owned())].into(),
        code_sha256: sha.to_owned(),
        code_size: 4,
        last_modified: at(T0),
        revision_id: revision_id.to_owned(),
    }
}

pub fn function(account: &str, name: &str) -> kinko_core::lambda::Function {
    kinko_core::lambda::Function {
        arn: kinko_core::lambda::function_arn(REGION, account, name),
        account_id: account.to_owned(),
        region: REGION.to_owned(),
        name: name.to_owned(),
        latest: function_config(kinko_core::lambda::LATEST, "sha-1", "r1"),
        versions: vec![],
        last_version: 0,
        policy: None,
        tags: [("team".to_owned(), "a".to_owned())].into(),
        created: at(T0),
        revision: 0,
    }
}

//! What the cache holds: keys that can be looked up without allocating, entries stamped with the
//! sequence number their read began at, and their weight (roughly their size in bytes).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use kinko_core::iam::IamState;
use kinko_core::kms::KmsKey;
use kinko_core::organizations::Organization;
use kinko_core::principal::AccessKeyRecord;
use kinko_core::secret::Secret;
use kinko_core::store::SealedValue;

/// A cache key as stored.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum EntryKey {
    Secret(Box<str>),
    SecretName(Box<str>, Box<str>, Box<str>),
    Value(Box<str>, Box<str>),
    KmsKey(Box<str>),
    Alias(Box<str>, Box<str>, Box<str>),
    Iam(Box<str>),
    Organization,
    AccessKey(Box<str>),
}

/// A cache key as looked up: borrowed, so a hit allocates nothing. Hashes and compares like the
/// [`EntryKey`] it stands for.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum KeyRef<'a> {
    /// A secret by ARN.
    Secret(&'a str),
    /// (account, region, name) → the ARN of the secret that had that name when it was read. Only
    /// a hint: it is used only while that secret's own entry is valid (see `CachedStore`).
    SecretName(&'a str, &'a str, &'a str),
    /// A sealed value: (secret ARN, version id).
    Value(&'a str, &'a str),
    KmsKey(&'a str),
    /// (account, region, alias name) → target key ARN.
    Alias(&'a str, &'a str, &'a str),
    Iam(&'a str),
    Organization,
    AccessKey(&'a str),
}

impl EntryKey {
    fn as_key_ref(&self) -> KeyRef<'_> {
        match self {
            EntryKey::Secret(a) => KeyRef::Secret(a),
            EntryKey::SecretName(a, r, n) => KeyRef::SecretName(a, r, n),
            EntryKey::Value(a, v) => KeyRef::Value(a, v),
            EntryKey::KmsKey(a) => KeyRef::KmsKey(a),
            EntryKey::Alias(a, r, n) => KeyRef::Alias(a, r, n),
            EntryKey::Iam(a) => KeyRef::Iam(a),
            EntryKey::Organization => KeyRef::Organization,
            EntryKey::AccessKey(id) => KeyRef::AccessKey(id),
        }
    }
}

impl Hash for EntryKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_key_ref().hash(state);
    }
}

impl quick_cache::Equivalent<EntryKey> for KeyRef<'_> {
    fn equivalent(&self, key: &EntryKey) -> bool {
        *self == key.as_key_ref()
    }
}

impl KeyRef<'_> {
    pub fn to_key(self) -> EntryKey {
        match self {
            KeyRef::Secret(a) => EntryKey::Secret(a.into()),
            KeyRef::SecretName(a, r, n) => EntryKey::SecretName(a.into(), r.into(), n.into()),
            KeyRef::Value(a, v) => EntryKey::Value(a.into(), v.into()),
            KeyRef::KmsKey(a) => EntryKey::KmsKey(a.into()),
            KeyRef::Alias(a, r, n) => EntryKey::Alias(a.into(), r.into(), n.into()),
            KeyRef::Iam(a) => EntryKey::Iam(a.into()),
            KeyRef::Organization => EntryKey::Organization,
            KeyRef::AccessKey(id) => EntryKey::AccessKey(id.into()),
        }
    }

    /// Bytes of the key's text.
    pub fn text_len(self) -> usize {
        match self {
            KeyRef::Secret(a) | KeyRef::KmsKey(a) | KeyRef::Iam(a) | KeyRef::AccessKey(a) => a.len(),
            KeyRef::SecretName(a, r, n) | KeyRef::Alias(a, r, n) => a.len() + r.len() + n.len(),
            KeyRef::Value(a, v) => a.len() + v.len(),
            KeyRef::Organization => 0,
        }
    }
}

/// A cached value and the sequence number its read began at (see `Validity`).
#[derive(Clone)]
pub(crate) struct Entry {
    pub stamp: u64,
    /// Computed once at fill: the cache asks for it again when it evicts.
    pub weight: u32,
    pub data: Data,
}

/// Values are `Arc`s: a hit copies a pointer, and the cheap lookups (`iam_revision`,
/// `organization_id_of`) read through it without copying the aggregate.
#[derive(Clone)]
pub(crate) enum Data {
    Secret(Arc<Secret>),
    /// A secret's ARN (for [`KeyRef::SecretName`]) or an alias target.
    Arn(Arc<str>),
    Value(Arc<SealedValue>),
    KmsKey(Arc<KmsKey>),
    Iam(Arc<IamState>),
    /// `None`: known to have no organization.
    Organization(Arc<Option<Organization>>),
    AccessKey(Arc<AccessKeyRecord>),
}

/// What an entry costs besides its key's and value's bytes: the cache's slot, the key and entry
/// structs, the `Arc` header and the allocator's rounding. An estimate, on the high side.
pub(crate) const ENTRY_OVERHEAD: usize = 160;

#[derive(Clone)]
pub(crate) struct Weigh;

impl quick_cache::Weighter<EntryKey, Entry> for Weigh {
    fn weight(&self, _key: &EntryKey, entry: &Entry) -> u64 {
        u64::from(entry.weight)
    }
}

/// Counts the bytes of a value's JSON form without building it: close to the heap the value
/// holds (its strings dominate), and it follows new fields without a change here.
struct Count(usize);

impl std::io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(crate) fn json_len<T: serde::Serialize>(value: &T) -> usize {
    let mut c = Count(0);
    // Serializing these domain types into a writer that never fails cannot fail either.
    let _ = serde_json::to_writer(&mut c, value);
    c.0
}

impl Data {
    /// Roughly the bytes this value holds.
    pub fn size(&self) -> usize {
        match self {
            Data::Secret(s) => json_len(s.as_ref()),
            Data::Arn(a) => a.len(),
            Data::Value(v) => v.encrypted_data_key.len() + v.ciphertext.len(),
            Data::KmsKey(k) => json_len(k.as_ref()),
            Data::Iam(s) => json_len(s.as_ref()),
            Data::Organization(o) => o.as_ref().as_ref().map_or(0, json_len),
            Data::AccessKey(k) => k.access_key_id.len() + json_len(&k.principal) + k.sealed_secret.len() + 16,
        }
    }
}

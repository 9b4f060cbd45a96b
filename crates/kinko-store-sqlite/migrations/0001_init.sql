-- kinko schema, version 1.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);

-- The secret half of each key is sealed under the root key.
CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    principal     TEXT NOT NULL,
    status        TEXT NOT NULL,
    sealed_secret BLOB NOT NULL,
    created_ms    INTEGER NOT NULL
);

-- One row per secret: indexed columns plus the aggregate (metadata and version labels) as JSON.
-- Names are unique per account and region, including secrets scheduled for deletion.
CREATE TABLE secrets (
    id          INTEGER PRIMARY KEY,
    arn         TEXT NOT NULL UNIQUE,
    account_id  TEXT NOT NULL,
    region      TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    deletion_ms INTEGER,
    revision    INTEGER NOT NULL,
    doc         TEXT NOT NULL,
    UNIQUE (account_id, region, name)
);
CREATE INDEX secrets_by_created ON secrets (account_id, region, created_ms);
CREATE INDEX secrets_by_deletion ON secrets (deletion_ms) WHERE deletion_ms IS NOT NULL;

-- Sealed version values: the data key as a KMS ciphertext blob and the value under it.
CREATE TABLE secret_values (
    secret_id          INTEGER NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version_id         TEXT NOT NULL,
    encrypted_data_key BLOB NOT NULL,
    ciphertext         BLOB NOT NULL,
    PRIMARY KEY (secret_id, version_id)
);

CREATE TABLE kms_keys (
    arn        TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    region     TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    doc        TEXT NOT NULL
);

CREATE TABLE kms_aliases (
    account_id TEXT NOT NULL,
    region     TEXT NOT NULL,
    alias_name TEXT NOT NULL,
    target_arn TEXT NOT NULL,
    PRIMARY KEY (account_id, region, alias_name)
);

-- Key material, wrapped by the root key with the key ARN and version as associated data.
CREATE TABLE kms_materials (
    key_arn TEXT NOT NULL,
    version INTEGER NOT NULL,
    wrapped BLOB NOT NULL,
    PRIMARY KEY (key_arn, version)
);

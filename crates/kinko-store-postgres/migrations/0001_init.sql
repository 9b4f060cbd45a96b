-- kinko schema on PostgreSQL, version 1: the same tables as the SQLite store's migrations 1-5.
-- Names compared or ordered byte-wise use COLLATE "C", as SQLite compares them.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

-- The secret half of each key is sealed under the root key; user_name is lower-cased.
CREATE TABLE access_keys (
    access_key_id TEXT COLLATE "C" PRIMARY KEY,
    account_id    TEXT NOT NULL,
    principal     TEXT NOT NULL,
    status        TEXT NOT NULL,
    sealed_secret BYTEA NOT NULL,
    created_ms    BIGINT NOT NULL,
    user_name     TEXT
);
CREATE INDEX access_keys_by_user ON access_keys (account_id, user_name);

CREATE TABLE iam_states (
    account_id TEXT PRIMARY KEY,
    revision   BIGINT NOT NULL,
    doc        TEXT NOT NULL
);

CREATE TABLE organization (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL,
    doc      TEXT NOT NULL
);

-- One row per secret: indexed columns plus the aggregate (metadata and version labels) as JSON.
-- Names are unique per account and region, including secrets scheduled for deletion.
CREATE TABLE secrets (
    id          BIGSERIAL PRIMARY KEY,
    arn         TEXT NOT NULL UNIQUE,
    account_id  TEXT NOT NULL,
    region      TEXT NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    created_ms  BIGINT NOT NULL,
    deletion_ms BIGINT,
    revision    BIGINT NOT NULL,
    doc         TEXT NOT NULL,
    UNIQUE (account_id, region, name)
);
CREATE INDEX secrets_by_created ON secrets (account_id, region, created_ms);
CREATE INDEX secrets_by_deletion ON secrets (deletion_ms) WHERE deletion_ms IS NOT NULL;

CREATE TABLE secret_values (
    secret_id          BIGINT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version_id         TEXT NOT NULL,
    encrypted_data_key BYTEA NOT NULL,
    ciphertext         BYTEA NOT NULL,
    PRIMARY KEY (secret_id, version_id)
);

-- rotation_ms is KmsKey::next_rotation_date (NULL when not due for automatic rotation).
CREATE TABLE kms_keys (
    arn         TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    region      TEXT NOT NULL,
    key_id      TEXT COLLATE "C" NOT NULL,
    revision    BIGINT NOT NULL,
    doc         TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    deletion_ms BIGINT,
    rotation_ms BIGINT
);
CREATE INDEX kms_keys_by_account ON kms_keys (account_id, region, created_ms);
CREATE INDEX kms_keys_by_deletion ON kms_keys (deletion_ms) WHERE deletion_ms IS NOT NULL;
CREATE INDEX kms_keys_by_rotation ON kms_keys (rotation_ms) WHERE rotation_ms IS NOT NULL;

CREATE TABLE kms_aliases (
    account_id TEXT NOT NULL,
    region     TEXT NOT NULL,
    alias_name TEXT COLLATE "C" NOT NULL,
    target_arn TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (account_id, region, alias_name)
);
CREATE INDEX kms_aliases_by_target ON kms_aliases (target_arn);

-- Key material, wrapped by the root key with the key ARN and version as associated data.
CREATE TABLE kms_materials (
    key_arn TEXT NOT NULL,
    version BIGINT NOT NULL,
    wrapped BYTEA NOT NULL,
    PRIMARY KEY (key_arn, version)
);

-- The change feed. Every write transaction ends by taking the next positions from
-- change_feed.last_seq (a row lock held until it commits) and appending the keys it changed: so
-- positions are handed out in commit order, and a reader that sees last_seq = N sees every change
-- at or before N.
CREATE TABLE changes (
    seq  BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    key  TEXT NOT NULL
);

-- Every change at or before pruned_through was deleted; a reader behind it missed some.
CREATE TABLE change_feed (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq       BIGINT NOT NULL,
    pruned_through BIGINT NOT NULL
);
INSERT INTO change_feed (id, last_seq, pruned_through) VALUES (1, 0, 0);

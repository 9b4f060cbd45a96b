-- kinko schema, version 2: IAM state per account, the organization, access keys by user.
CREATE TABLE iam_states (
    account_id TEXT PRIMARY KEY,
    revision   INTEGER NOT NULL,
    doc        TEXT NOT NULL
);

-- The organization (one per installation): its accounts and CreateAccount requests.
CREATE TABLE organization (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL,
    doc      TEXT NOT NULL
);

ALTER TABLE access_keys ADD COLUMN user_name TEXT;
CREATE INDEX access_keys_by_user ON access_keys (account_id, user_name);

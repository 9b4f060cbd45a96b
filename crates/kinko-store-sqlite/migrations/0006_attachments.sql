-- kinko schema, version 6: workload attachments (instance attachments and container credentials
-- tokens). `body` is the whole record as JSON; the columns beside it are what it is found by.
-- Tokens are stored only as their SHA-256.
CREATE TABLE attachments (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    port         INTEGER UNIQUE,
    token_sha256 TEXT UNIQUE,
    created_ms   INTEGER NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX attachments_by_account ON attachments (account_id, created_ms);

-- kinko schema, version 8: Lambda functions. `body` is the whole function (configuration,
-- published versions, resource policy, tags) as JSON; `revision` is its optimistic-concurrency
-- revision. Deployment packages are kept once per function and SHA-256.
CREATE TABLE functions (
    arn        TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    region     TEXT NOT NULL,
    name       TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX functions_by_account ON functions (account_id, region, name);
CREATE TABLE function_code (
    function_arn TEXT NOT NULL REFERENCES functions (arn) ON DELETE CASCADE,
    code_sha256  TEXT NOT NULL,
    zip          BLOB NOT NULL,
    PRIMARY KEY (function_arn, code_sha256)
);

-- kinko schema on PostgreSQL, version 6: account aliases (IAM CreateAccountAlias), unique across accounts, one
-- per account. The alias itself lives in the account's IAM state; this table, written in the same
-- transaction as that state, keeps it unique and finds an account by its alias. Not in the change
-- feed: a change to it is a change of the IAM state, which is.
CREATE TABLE account_aliases (
    alias      TEXT PRIMARY KEY,
    account_id TEXT NOT NULL UNIQUE
);

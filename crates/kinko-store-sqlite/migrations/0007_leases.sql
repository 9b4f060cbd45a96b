-- kinko schema, version 7: named leases (`Store::acquire_lease`). One server holds a SQLite data
-- dir, so they only ever change hands at its restarts; the table keeps the contract the same on
-- every backend. Not in the change feed: nothing caches them.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);

-- kinko schema on PostgreSQL, version 3: named leases (`Store::acquire_lease`), so that one node
-- at a time runs each background job. Not in the change feed: nothing caches them.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);

-- kinko schema on PostgreSQL, version 7: CloudFormation stacks, one row per stack (deleted ones kept for
-- ListStacks). The body is the stack as JSON: template, parameters, resources, events, change
-- sets. Not in the change feed: stacks are not cached.
CREATE TABLE stacks (
    stack_id   TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    region     TEXT NOT NULL,
    name       TEXT NOT NULL,
    created    BIGINT NOT NULL,
    revision   BIGINT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX stacks_by_account ON stacks (account_id, region, created);

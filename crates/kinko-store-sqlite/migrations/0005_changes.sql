-- kinko schema, version 5: the change feed. Every write transaction appends the keys it changed;
-- caches in processes sharing the file read what was appended since they last looked
-- (`Store::changes_since`). `seq` only grows: rowids are max + 1 and pruning never removes the
-- newest row.
CREATE TABLE changes (
    seq  INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    key  TEXT NOT NULL
);

-- Every change at or before `pruned_through` was deleted; a reader behind it missed some.
CREATE TABLE change_feed (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    pruned_through INTEGER NOT NULL
);
INSERT INTO change_feed (id, pruned_through) VALUES (1, 0);

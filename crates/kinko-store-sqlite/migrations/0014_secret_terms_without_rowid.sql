-- kinko schema, version 14: `secret_terms` keyed by (kind, term, secret_id, attribute), without a
-- rowid. The table itself is then the index a filter's prefix range across secrets reads, and it
-- yields the secrets' ids without a lookup per term; the one other index finds a secret's terms.
-- Before, each term was kept three times (the table and two indexes), now twice. A term repeated
-- within one attribute (two tags with one value) is kept once: the filters ask only whether a
-- secret has a term.
CREATE TABLE secret_terms_keyed (
    kind      TEXT NOT NULL,
    term      TEXT NOT NULL,
    secret_id INTEGER NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    attribute INTEGER NOT NULL,
    PRIMARY KEY (kind, term, secret_id, attribute)
) WITHOUT ROWID;
INSERT OR IGNORE INTO secret_terms_keyed (kind, term, secret_id, attribute)
    SELECT kind, term, secret_id, attribute FROM secret_terms;
DROP TABLE secret_terms;
ALTER TABLE secret_terms_keyed RENAME TO secret_terms;
-- Per secret, by kind and term: the filters' prefix ranges of one secret.
CREATE INDEX secret_terms_by_secret ON secret_terms (secret_id, kind, term);

-- kinko schema, version 9: the searchable terms of each secret (kinko_core::filters::terms),
-- written with the secret in the same transaction, so ListSecrets and BatchGetSecretValue filters
-- are answered here with an index instead of by reading every secret. Existing secrets get their
-- terms in the same migration (computed by kinko, see conn.rs). Terms compare in code point order
-- (COLLATE "C"), as the filters' prefix ranges need.
CREATE TABLE secret_terms (
    secret_id BIGINT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    attribute BIGINT NOT NULL,
    term      TEXT COLLATE "C" NOT NULL
);
-- Per secret, by kind and term: the filters' prefix ranges of one secret.
CREATE INDEX secret_terms_by_secret ON secret_terms (secret_id, kind, term);
-- Searching by terms across secrets.
CREATE INDEX secret_terms_by_term ON secret_terms (kind, term);

-- kinko schema, version 10: the index of terms across secrets also holds each term's secret id,
-- so a filter's prefix range yields the secrets' ids from the index alone (an index-only scan)
-- when a listing starts from it.
CREATE INDEX secret_terms_by_term_id ON secret_terms (kind, term, secret_id);
DROP INDEX secret_terms_by_term;

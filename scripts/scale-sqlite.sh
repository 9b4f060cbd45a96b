#!/usr/bin/env bash
# The SQLite store's secret listing queries and bytes per secret with many secrets, without a
# server: builds a database of schema version 13 with the store's own migrations and N secrets
# shaped like kinko-bench's seeded ones (name bench-N, one version with a ~90-byte value, tag
# team = team-{N % 1000}), migrates a copy to version 14 (timed), and prints each version's pages
# in use, its largest tables and indexes, and the time of each listing query (the second of two
# runs) as the store sends it, before and after.
#   scripts/scale-sqlite.sh [N] [DIR]      # needs the sqlite3 shell; DIR is removed at the end
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
DIR=${2:-$(mktemp -d)}
mkdir -p "$DIR"
trap 'rm -rf "$DIR"' EXIT
OLD=$DIR/v13.db
NEW=$DIR/v14.db
sqlite3 "$OLD" "PRAGMA journal_mode=WAL;" >/dev/null
for f in crates/kinko-store-sqlite/migrations/*.sql; do
  v=$((10#$(basename "$f" | cut -c1-4)))
  [ "$v" -gt 13 ] && break
  { echo "BEGIN;"; cat "$f"; echo "PRAGMA user_version=$v; COMMIT;"; } | sqlite3 "$OLD"
done
sqlite3 "$OLD" <<SQL
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $N)
INSERT INTO secrets (id, arn, account_id, region, name, created_ms, deletion_ms, revision, doc, rotation_ms)
SELECT i + 1, 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-' || i || '-' || substr(hex(randomblob(3)), 1, 6),
       '000000000000', 'us-east-1', 'bench-' || i, 1796691286141 + i / 5, NULL, 1, '', NULL FROM n;
UPDATE secrets SET doc = json_object('arn', arn, 'name', name, 'account_id', account_id, 'region', region,
  'tags', json_array(json_object('key', 'team', 'value', 'team-' || ((id - 1) % 1000))),
  'created_date', created_ms, 'last_changed_date', created_ms,
  'versions', json_array(json_object('id', lower(hex(randomblob(18))), 'stages', json_array('AWSCURRENT'),
     'created_date', created_ms, 'kind', 'String',
     'kms_key_arn', 'arn:aws:kms:us-east-1:000000000000:key/28abb9c9-b95f-4a8f-a7ac-d564bb53f668')));
INSERT INTO secret_values (secret_id, version_id, encrypted_data_key, ciphertext)
  SELECT id, lower(hex(randomblob(18))), randomblob(104), randomblob(113) FROM secrets;
INSERT INTO secret_terms (secret_id, kind, attribute, term)
  SELECT id, 'a', 0, 'bench' FROM secrets
  UNION ALL SELECT id, 'a', 0, CAST(id - 1 AS TEXT) FROM secrets
  UNION ALL SELECT id, 'a', 2, 'team' FROM secrets
  UNION ALL SELECT id, 'a', 3, 'team' FROM secrets
  UNION ALL SELECT id, 'a', 3, CAST((id - 1) % 1000 AS TEXT) FROM secrets
  UNION ALL SELECT id, 'k', 0, 'team' FROM secrets
  UNION ALL SELECT id, 'v', 0, 'team-' || ((id - 1) % 1000) FROM secrets;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
cp "$OLD" "$NEW"
echo "migration to version 14 of $N secrets:"
time { { echo "BEGIN;"; cat crates/kinko-store-sqlite/migrations/0014_secret_terms_without_rowid.sql
         echo "PRAGMA user_version=14; COMMIT;"; } | sqlite3 "$NEW"; }
for db in "$OLD" "$NEW"; do
  echo "== $(basename "$db")"
  sqlite3 "$db" "SELECT 'bytes in use per secret: ' || (((SELECT page_count FROM pragma_page_count) -
    (SELECT freelist_count FROM pragma_freelist_count)) * (SELECT page_size FROM pragma_page_size) / $N)"
  sqlite3 "$db" "SELECT name, sum(pgsize) / $N AS bytes_per_secret FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 8"
done
K=$((N * 9 / 10))
W="s.account_id = '000000000000' AND s.region = 'us-east-1' AND (0 OR s.deletion_ms IS NULL)"
run() { echo "-- $1"; printf ".timer on\nSELECT count(*), sum(length(doc)) FROM (%s);\nSELECT count(*), sum(length(doc)) FROM (%s);\n" "$2" "$2" | sqlite3 "$db" 2>&1 | grep -E "Run Time|rror" | tail -1 || true; }
for db in "$OLD" "$NEW"; do
echo "== queries on $(basename "$db")"
run "first page" "SELECT s.doc, s.revision FROM secrets s WHERE $W ORDER BY s.created_ms, s.id LIMIT 101 OFFSET 0"
run "page at offset $K" "SELECT s.doc, s.revision FROM secrets s WHERE $W ORDER BY s.created_ms, s.id LIMIT 101 OFFSET $K"
run "name bench-12345 (before: range in WHERE)" "SELECT s.doc, s.revision FROM secrets s WHERE $W AND ((s.name >= 'bench-12345' AND s.name < 'bench-12346')) ORDER BY s.created_ms, s.id LIMIT 101 OFFSET 0"
run "tag-value team-123 (before: EXISTS)" "SELECT s.doc, s.revision FROM secrets s WHERE $W AND ((EXISTS (SELECT 1 FROM secret_terms t WHERE t.secret_id = s.id AND t.kind = 'v' AND t.term >= 'team-123' AND t.term < 'team-124'))) ORDER BY s.created_ms, s.id LIMIT 101 OFFSET 0"
run "probe name" "SELECT c.id AS doc FROM (SELECT n.id FROM secrets n WHERE n.account_id = '000000000000' AND n.region = 'us-east-1' AND n.name >= 'bench-12345' AND n.name < 'bench-12346' LIMIT 2001) AS c"
run "probe tag" "SELECT c.secret_id AS doc FROM (SELECT t.secret_id FROM secret_terms t WHERE t.kind = 'v' AND t.term >= 'team-123' AND t.term < 'team-124' LIMIT 2001) AS c"
run "name bench-12345 (after: from the range's ids)" "SELECT s.doc, s.revision FROM secrets s WHERE s.id IN (SELECT n.id FROM secrets n WHERE n.account_id = '000000000000' AND n.region = 'us-east-1' AND n.name >= 'bench-12345' AND n.name < 'bench-12346') AND +s.account_id = '000000000000' AND +s.region = 'us-east-1' AND (0 OR s.deletion_ms IS NULL) AND ((s.name >= 'bench-12345' AND s.name < 'bench-12346')) ORDER BY s.created_ms, s.id LIMIT 101 OFFSET 0"
run "tag-value team-123 (after: from the range's ids)" "SELECT s.doc, s.revision FROM secrets s WHERE s.id IN (SELECT t.secret_id FROM secret_terms t WHERE t.kind = 'v' AND t.term >= 'team-123' AND t.term < 'team-124') AND +s.account_id = '000000000000' AND +s.region = 'us-east-1' AND (0 OR s.deletion_ms IS NULL) AND ((EXISTS (SELECT 1 FROM secret_terms t WHERE t.secret_id = s.id AND t.kind = 'v' AND t.term >= 'team-123' AND t.term < 'team-124'))) ORDER BY s.created_ms, s.id LIMIT 101 OFFSET 0"
run "name bench- (dense, walk; after: +s.name)" "SELECT s.doc, s.revision FROM secrets s WHERE $W AND ((+s.name >= 'bench-' AND +s.name < 'bench.')) ORDER BY s.created_ms, s.id LIMIT 101 OFFSET 0"
run "the same page, after the secret before it" "SELECT s.doc, s.revision FROM secrets s WHERE $W AND s.created_ms >= $((1796691286141 + K / 5)) AND (s.created_ms > $((1796691286141 + K / 5)) OR s.id > $K) ORDER BY s.created_ms, s.id LIMIT 101 OFFSET 0"
done

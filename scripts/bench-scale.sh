#!/usr/bin/env bash
# Many secrets: CreateSecret while seeding them, the database's bytes per secret, the server's
# start-up time on that data dir, and GetSecretValue, DescribeSecret and ListSecrets (first page:
# unfiltered, by name prefix, by tag value) against it.
#   scripts/bench-scale.sh [SECRETS] [DURATION] [WORKDIR]
# Needs `cargo build --release --workspace`. With WORKDIR the data dir is kept there, and a second
# run on it (SEED=0) skips the seeding. The audit trail is durable (fsync) and rotated every
# 256 MiB, keeping two rotated files, so that seeding millions of secrets doesn't fill the disk.
set -euo pipefail
cd "$(dirname "$0")/.."
SECRETS=${1:-1000000}
DURATION=${2:-5}
WORK=${3:-}
SEED=${SEED:-1}
KINKO=target/release/kinko
BENCH=target/release/kinko-bench
CLEAN=0
if [ -z "$WORK" ]; then WORK=$(mktemp -d); CLEAN=1; else mkdir -p "$WORK"; fi
PID=
stop() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; fi
}
trap 'stop; if [ "$CLEAN" = 1 ]; then rm -rf "$WORK"; fi' EXIT
export KINKO_ROOT_ACCESS_KEY_ID=benchroot KINKO_ROOT_SECRET_ACCESS_KEY=benchrootsecret KINKO_ACCOUNT_ID=000000000000

# Starts the server on the data dir and prints how long it took to print its listening line.
start() {
  : >"$WORK/out"
  local t0 t1
  t0=$(date +%s%N)
  "$KINKO" server --data-dir "$WORK/data" --listen 127.0.0.1:0 --audit-durability fsync \
    --audit-rotate-size 256 --audit-keep-files 2 >"$WORK/out" 2>>"$WORK/err" &
  PID=$!
  for _ in $(seq 60000); do grep -q 'listening on' "$WORK/out" && break; sleep 0.001; done
  t1=$(date +%s%N)
  grep -q 'listening on' "$WORK/out" || { echo "kinko did not start:"; tail "$WORK/err"; exit 1; }
  ENDPOINT=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/out")
  echo "start-up (until the listening line): $(((t1 - t0) / 1000000)) ms"
}
bench() {
  "$BENCH" --endpoint "$ENDPOINT" --access-key-id benchroot --secret-access-key benchrootsecret \
    --server-pid "$PID" --secrets "$SECRETS" --no-bare --duration "$DURATION" --warmup 1 "$@" |
    grep -E '^\| (operation|---|[A-Z])'
}

echo "== $SECRETS secrets in $WORK/data"
start
if [ "$SEED" = 1 ]; then
  echo "== seeding (64 connections, each secret tagged), then CreateSecret of new secrets"
  bench --seed-tags --seed-concurrency 64 --ops create --concurrency 64
fi
stop

echo "== database size"
DB=$(du -cb "$WORK"/data/*.db* | tail -1 | cut -f1)
COUNT=$(sqlite3 "file:$WORK/data/kinko.db?mode=ro" 'SELECT count(*) FROM secrets' 2>/dev/null || echo "$SECRETS")
echo "database files: $DB bytes for $COUNT secrets: $((DB / COUNT)) bytes per secret"
ls -l "$WORK"/data/*.db*

echo "== restarts"
start
stop
start

echo "== reads"
bench --no-seed --ops describe,list,list-name,list-tag --concurrency 1,64
echo "== GetSecretValue, every secret read once before (warm: no first read of the day)"
bench --no-seed --pre-read --ops get --concurrency 64
stop

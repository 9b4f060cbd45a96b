#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests (AWS SDK for Rust),
# the bounded decoder fuzz run, and the AWS CLI / boto3 compatibility tests. Installs what it
# needs first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# First install what a fresh machine lacks (pinned clients, toolchain components).
source scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo build"
cargo build --workspace --locked
echo "== cargo test"
cargo test --workspace --locked
# The integration tests of every service again, each server on PostgreSQL (a scratch schema of
# its own; the storage contract ran on it above), beside the AWS CLI and boto3 compatibility
# tests: both spend much of their time waiting (databases, servers, CloudFormation's waiters).
pg_pid=""
pg_log="$(mktemp)"
trap 'rm -f "$pg_log"' EXIT
if [ -n "${KINKO_TEST_POSTGRES_URL:-}" ]; then
    echo "== cargo test -p kinko-tests on PostgreSQL (in the background; its output follows the compatibility tests')"
    KINKO_TEST_STORE=postgres cargo test -p kinko-tests --locked >"$pg_log" 2>&1 &
    pg_pid=$!
else
    echo "== skipping the PostgreSQL runs: KINKO_TEST_POSTGRES_URL is not set"
fi
# Instructions per GetSecretValue, PutSecretValue, Decrypt and AssumeRole, counted by callgrind
# (machine load cannot move them) against the committed baseline: more than 10 % above fails.
echo "== instructions per request against crates/kinko-bench/instructions.json (in the background)"
instr_log="$(mktemp)"
trap 'rm -f "$pg_log" "$instr_log"' EXIT
target/debug/kinko-bench instructions --baseline crates/kinko-bench/instructions.json >"$instr_log" 2>&1 &
instr_pid=$!
echo "== AWS CLI and boto3 compatibility tests"
compat_rc=0
KINKO_BIN="$PWD/target/debug/kinko" bash tests/compat/run.sh || compat_rc=$?
pg_rc=0
if [ -n "$pg_pid" ]; then
    wait "$pg_pid" || pg_rc=$?
    echo "== cargo test -p kinko-tests on PostgreSQL: exit status $pg_rc"
    cat "$pg_log"
fi
instr_rc=0
wait "$instr_pid" || instr_rc=$?
echo "== instructions per request: exit status $instr_rc"
cat "$instr_log"
if [ "$compat_rc" -ne 0 ] || [ "$pg_rc" -ne 0 ] || [ "$instr_rc" -ne 0 ]; then
    echo "== FAILED: compatibility tests exit status $compat_rc, PostgreSQL run exit status $pg_rc, instructions guard exit status $instr_rc"
    exit 1
fi

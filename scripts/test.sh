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
if [ -n "${KINKO_TEST_POSTGRES_URL:-}" ]; then
    # The integration tests of every service again, each server on PostgreSQL (a scratch schema
    # of its own); the storage contract ran on it above.
    echo "== cargo test -p kinko-tests on PostgreSQL"
    KINKO_TEST_STORE=postgres cargo test -p kinko-tests --locked
else
    echo "== skipping the PostgreSQL runs: KINKO_TEST_POSTGRES_URL is not set"
fi
echo "== AWS CLI and boto3 compatibility tests"
KINKO_BIN="$PWD/target/debug/kinko" bash tests/compat/run.sh

#!/usr/bin/env bash
# Runs the AWS CLI / boto3 compatibility suite against a freshly started kinko.
# Usage: tests/compat/run.sh [extra pytest args]
# KINKO_BIN overrides the binary (default: target/debug/kinko in the repo root).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"

KINKO_BIN="${KINKO_BIN:-target/debug/kinko}"
case "$KINKO_BIN" in
  /*) bin_path="$KINKO_BIN" ;;
  *) bin_path="$repo_root/$KINKO_BIN" ;;
esac
if [[ ! -x "$bin_path" ]]; then
  echo "error: kinko binary not found or not executable at $bin_path" >&2
  echo "       build it first (cargo build -p kinko-cli) or set KINKO_BIN" >&2
  exit 1
fi
export KINKO_BIN="$bin_path"

if ! command -v aws >/dev/null 2>&1; then
  echo "error: the AWS CLI (aws) is not on PATH" >&2
  exit 1
fi

export PYTHONDONTWRITEBYTECODE=1
exec python3 -m pytest -q -p no:cacheprovider tests/compat "$@"

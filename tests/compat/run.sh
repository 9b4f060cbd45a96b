#!/usr/bin/env bash
# Runs the AWS CLI / boto3 compatibility suite against a freshly started kinko.
# Usage: tests/compat/run.sh [extra pytest args]   (e.g. a file: tests/compat/test_cli.py)
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
# The files run in parallel, each file's tests in order on one worker with a server of its own:
# much of the suite waits (CloudFormation's waiters poll every 30 s, rotations run on schedules),
# so workers overlap their waits. KINKO_COMPAT_WORKERS=0 runs everything in this one process.
workers="${KINKO_COMPAT_WORKERS:-4}"
parallel=()
if [[ "$workers" != 0 ]]; then
  parallel=(-n "$workers" --dist loadfile)
fi
# The whole suite, or the files (or node ids) named first.
where=(tests/compat)
if [[ $# -gt 0 && "$1" != -* ]]; then
  where=()
fi
exec python3 -m pytest -q -p no:cacheprovider "${parallel[@]}" "${where[@]}" "$@"

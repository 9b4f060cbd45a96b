#!/usr/bin/env bash
# GetSecretValue load as the root user and as an IAM role session (five attached policies with
# conditions), against the same server: the cost of policy enforcement on the hot path.
#   scripts/bench-role-session.sh [SECRETS] [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
SECRETS=${1:-10000}
DURATION=${2:-5}

cargo build --release -q -p kinko-cli -p kinko-bench
WORK=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
KINKO_ROOT_ACCESS_KEY_ID=benchroot KINKO_ROOT_SECRET_ACCESS_KEY=benchrootsecret KINKO_ACCOUNT_ID=111122223333 \
  target/release/kinko server --data-dir "$WORK/data" --listen 127.0.0.1:0 >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$WORK/out" && break; sleep 0.1; done
ENDPOINT=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/out")

export AWS_ACCESS_KEY_ID=benchroot AWS_SECRET_ACCESS_KEY=benchrootsecret AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=
aws() { command aws --endpoint-url "$ENDPOINT" "$@"; }

aws iam create-user --user-name bench >/dev/null
aws iam put-user-policy --user-name bench --policy-name assume --policy-document \
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/bench-reader"}]}'
KEYS=$(aws iam create-access-key --user-name bench --output json)
aws iam create-role --role-name bench-reader --assume-role-policy-document \
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}' >/dev/null
# Five policies, 20 statements, most with conditions, like a real workload's.
for i in 1 2 3 4; do
  aws iam put-role-policy --role-name bench-reader --policy-name "extra-$i" --policy-document "{\"Version\":\"2012-10-17\",\"Statement\":[
    {\"Effect\":\"Allow\",\"Action\":[\"secretsmanager:DescribeSecret\"],\"Resource\":\"arn:aws:secretsmanager:*:*:secret:team$i/*\",\"Condition\":{\"StringEquals\":{\"aws:ResourceTag/team\":\"t$i\"}}},
    {\"Effect\":\"Allow\",\"Action\":[\"secretsmanager:ListSecrets\"],\"Resource\":\"*\",\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}},
    {\"Effect\":\"Deny\",\"Action\":[\"secretsmanager:DeleteSecret\"],\"Resource\":\"*\",\"Condition\":{\"StringNotEquals\":{\"aws:PrincipalAccount\":\"111122223333\"}}},
    {\"Effect\":\"Allow\",\"Action\":[\"kms:Decrypt\"],\"Resource\":\"*\",\"Condition\":{\"StringLike\":{\"kms:ViaService\":\"secretsmanager.*.amazonaws.com\"}}}]}"
done
aws iam put-role-policy --role-name bench-reader --policy-name read-bench --policy-document \
  '{"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret"],"Resource":"arn:aws:secretsmanager:us-east-1:111122223333:secret:bench-*","Condition":{"StringEqualsIfExists":{"secretsmanager:VersionStage":"AWSCURRENT"}}},
    {"Effect":"Allow","Action":"secretsmanager:ListSecrets","Resource":"*"},
    {"Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}},
    {"Effect":"Allow","Action":"secretsmanager:GetRandomPassword","Resource":"*"}]}'

echo "== root caller (also seeds $SECRETS secrets)"
target/release/kinko-bench --endpoint "$ENDPOINT" --access-key-id benchroot --secret-access-key benchrootsecret \
  --secrets "$SECRETS" --ops get --concurrency 64 --duration "$DURATION" --warmup 1 --no-bare | grep -E '^\| (server|kinko)'

export AWS_ACCESS_KEY_ID=$(python3 -c 'import json,sys;print(json.loads(sys.argv[1])["AccessKey"]["AccessKeyId"])' "$KEYS")
export AWS_SECRET_ACCESS_KEY=$(python3 -c 'import json,sys;print(json.loads(sys.argv[1])["AccessKey"]["SecretAccessKey"])' "$KEYS")
CREDS=$(aws sts assume-role --role-arn arn:aws:iam::111122223333:role/bench-reader --role-session-name bench --output json)
field() { python3 -c 'import json,sys;print(json.loads(sys.argv[1])["Credentials"][sys.argv[2]])' "$CREDS" "$1"; }

echo "== role session arn:aws:sts::111122223333:assumed-role/bench-reader/bench"
target/release/kinko-bench --endpoint "$ENDPOINT" --access-key-id "$(field AccessKeyId)" \
  --secret-access-key "$(field SecretAccessKey)" --session-token "$(field SessionToken)" --no-seed \
  --secrets "$SECRETS" --ops get --concurrency 64 --duration "$DURATION" --warmup 1 --no-bare | grep -E '^\| kinko'

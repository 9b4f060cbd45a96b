"""The server's own credentials endpoints with unmodified boto3 and AWS CLI children.

An operator (root) creates, with `kinko attachment`, a container credentials token bound to a role
and an instance attachment serving an instance profile on a port of the instance metadata
endpoint. A child with no AWS_ACCESS_KEY_ID (nor profile) anywhere in its environment, only
AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) or only
AWS_EC2_METADATA_SERVICE_ENDPOINT, reads the secret the role allows and gets AccessDeniedException
naming its assumed-role ARN for one it doesn't; so does an AWS SDK for JavaScript v3 program
(tests/node, installed by scripts/setup.sh). Revoked, the token or attachment stops working at
once: a new child gets no credentials.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kinko_compat import ACCESS_KEY, ACCOUNT, REGION, SECRET_KEY, allow, clean_env, kinko_bin, make_service_client, policy, short_id

CHILD = textwrap.dedent(
    """
    import json, os, sys
    import boto3
    from botocore.exceptions import ClientError
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        assert name not in os.environ, name
    me = boto3.client("sts").get_caller_identity()["Arn"]
    sm = boto3.client("secretsmanager")
    value = sm.get_secret_value(SecretId=sys.argv[1])["SecretString"]
    try:
        sm.get_secret_value(SecretId=sys.argv[2])
        denied = None
    except ClientError as e:
        denied = [e.response["Error"]["Code"], e.response["Error"]["Message"]]
    print(json.dumps({"arn": me, "value": value, "denied": denied}))
    """
)

CLI_SCRIPT = (
    'test -z "$AWS_ACCESS_KEY_ID" || exit 9; '
    "aws sts get-caller-identity --query Arn --output text; "
    "aws secretsmanager get-secret-value --secret-id \"$1\" --query SecretString --output text; "
    'aws secretsmanager get-secret-value --secret-id "$2"; echo rc=$?'
)

TRUST_SERVICES = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@pytest.fixture(scope="module")
def workload(endpoint: str):
    """A role the services may assume reading `wle-<id>/*`, an instance profile holding it, an
    allowed and a denied secret."""
    n = short_id()
    iam = make_service_client(endpoint, "iam")
    role = f"wle-{n}"
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_SERVICES)["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role,
        PolicyName="read",
        PolicyDocument=policy(allow("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:*:*:secret:wle-{n}/*")),
    )
    profile = f"wle-{n}-profile"
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    sm = make_service_client(endpoint, "secretsmanager")
    allowed, other = f"wle-{n}/db", f"other-{n}/db"
    sm.create_secret(Name=allowed, SecretString="pw")
    sm.create_secret(Name=other, SecretString="no")
    return {"role": role, "role_arn": role_arn, "profile": profile, "allowed": allowed, "other": other}


def attachment(endpoint: str, *args: str) -> dict:
    """`kinko attachment ARGS` as root: its JSON answer."""
    out = subprocess.run(
        [str(kinko_bin()), "attachment", "--endpoint", endpoint, *args],
        env=clean_env({"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": REGION}),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def run_child(endpoint: str, env: dict[str, str], args: list[str]) -> subprocess.CompletedProcess:
    """`args` with `env` and no other AWS setting: no keys, no profile files."""
    with tempfile.NamedTemporaryFile("w", prefix="kinko-compat-empty-") as empty:
        full = clean_env(
            {
                "AWS_CONFIG_FILE": empty.name,
                "AWS_SHARED_CREDENTIALS_FILE": empty.name,
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                **env,
            }
        )
        return subprocess.run(args, env=full, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


NODE_DIR = Path(__file__).resolve().parents[1] / "node"


def node_child(endpoint: str, env: dict[str, str], workload: dict) -> subprocess.CompletedProcess:
    """tests/node/read_secret.mjs, an unmodified AWS SDK for JavaScript v3 program."""
    if not (NODE_DIR / "node_modules").is_dir():
        pytest.fail("tests/node/node_modules is missing: run scripts/setup.sh", pytrace=False)
    return run_child(endpoint, env, ["node", str(NODE_DIR / "read_secret.mjs"), workload["allowed"], workload["other"]])


def boto3_child(endpoint: str, env: dict[str, str], workload: dict) -> subprocess.CompletedProcess:
    return run_child(endpoint, env, [sys.executable, "-c", CHILD, workload["allowed"], workload["other"]])


def cli_child(endpoint: str, env: dict[str, str], workload: dict) -> subprocess.CompletedProcess:
    return run_child(endpoint, env, ["sh", "-c", CLI_SCRIPT, "sh", workload["allowed"], workload["other"]])


def check_json_child(out: subprocess.CompletedProcess, arn_prefix: str) -> None:
    """A boto3 or Node child's report: its ARN, the allowed value, AWS's AccessDenied."""
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["arn"].startswith(arn_prefix), got["arn"]
    assert got["value"] == "pw"
    code, message = got["denied"]
    assert code == "AccessDeniedException"
    assert message.startswith(f"User: {got['arn']} is not authorized to perform: secretsmanager:GetSecretValue")


def check_cli(out: subprocess.CompletedProcess, arn_prefix: str) -> None:
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith(arn_prefix), lines
    assert lines[1] == "pw"
    assert lines[-1] != "rc=0"
    assert "(AccessDeniedException)" in out.stderr
    assert f"User: {lines[0]} is not authorized to perform: secretsmanager:GetSecretValue" in out.stderr


def test_container_token_for_boto3_and_the_aws_cli(kinko_server, endpoint: str, workload: dict):
    url = kinko_server.container_credentials_url
    assert url and url.startswith("http://127.0.0.1:"), url
    created = attachment(endpoint, "create-token", "--role", workload["role_arn"], "--session-name", "task-1")
    token, token_id = created["Token"], created["ContainerCredentialsToken"]["TokenId"]
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{workload['role']}/task-1"
    with tempfile.NamedTemporaryFile("w", prefix="kinko-compat-token-") as token_file:
        token_file.write(token)
        token_file.flush()
        by_file = {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": url,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": token_file.name,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        by_value = {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": url,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": token,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        check_json_child(boto3_child(endpoint, by_file, workload), arn)
        check_cli(cli_child(endpoint, by_value, workload), arn)
        check_json_child(node_child(endpoint, by_file, workload), arn)
        check_json_child(node_child(endpoint, by_value, workload), arn)

        attachment(endpoint, "delete-token", token_id)
        revoked = boto3_child(endpoint, by_file, workload)
        assert revoked.returncode != 0
        assert "credentials" in revoked.stderr.lower(), revoked.stderr
        revoked = cli_child(endpoint, by_value, workload)
        assert "credentials" in revoked.stderr.lower(), revoked.stderr
        assert workload["role"] not in revoked.stdout
        revoked = node_child(endpoint, by_value, workload)
        assert revoked.returncode != 0 and workload["role"] not in revoked.stdout, revoked.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    """The server listens on a new attachment's port within a few seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_instance_attachment_for_boto3_and_the_aws_cli(endpoint: str, workload: dict):
    port = free_port()
    created = attachment(endpoint, "create-instance", "--instance-profile", workload["profile"], "--port", str(port))
    attachment_id = created["InstanceAttachment"]["AttachmentId"]
    wait_for_port(port)
    base = f"http://127.0.0.1:{port}"
    # IMDSv1 is refused: the token is required.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(base + "/latest/meta-data/iam/security-credentials/", timeout=5)
    assert e.value.code == 401
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": base + "/"}
    # The session is named by the instance id, as on EC2.
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{workload['role']}/i-"
    check_json_child(boto3_child(endpoint, env, workload), arn)
    check_cli(cli_child(endpoint, env, workload), arn)
    # aws-sdk-js v3 keeps only the host and port of the endpoint: the reason an attachment is a
    # port, not a path.
    check_json_child(node_child(endpoint, env, workload), arn)

    attachment(endpoint, "delete-instance", attachment_id)
    revoked = boto3_child(endpoint, env, workload)
    assert revoked.returncode != 0
    assert "credentials" in revoked.stderr.lower(), revoked.stderr
    revoked = cli_child(endpoint, env, workload)
    assert workload["role"] not in revoked.stdout
    revoked = node_child(endpoint, env, workload)
    assert revoked.returncode != 0 and workload["role"] not in revoked.stdout, revoked.stdout


def test_listings_never_show_a_token(endpoint: str, workload: dict):
    created = attachment(endpoint, "create-token", "--role", workload["role_arn"])
    listed = attachment(endpoint, "list-tokens")
    ids = [t["TokenId"] for t in listed["ContainerCredentialsTokens"]]
    assert created["ContainerCredentialsToken"]["TokenId"] in ids
    assert created["Token"] not in json.dumps(listed)
    attachment(endpoint, "delete-token", created["ContainerCredentialsToken"]["TokenId"])
    assert os.environ.get("AWS_ACCESS_KEY_ID") is None

"""`kinko agent` read from Python the way programs read the AWS Secrets Manager Agent.

The agent runs as the child of `kinko exec --role ...` (so it reads as the role, with no access key
in its environment); its SSRF token is in a file named by `AWS_TOKEN=file://...`, as AWS's install
script sets it up. The program reads the token file and asks `GET /secretsmanager/get?secretId=...`
with the `X-Aws-Parameters-Secrets-Token` header through urllib, and parses the JSON answer.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kinko_compat import (
    ACCOUNT,
    REGION,
    Creds,
    STARTUP_TIMEOUT,
    allow,
    clean_env,
    kinko_bin,
    make_service_client,
    policy,
    short_id,
    trust,
)

AGENT_RE = re.compile(r"kinko agent listening on (http://127\.0\.0\.1:\d+)")


@pytest.fixture(scope="module")
def agent(endpoint: str, tmp_path_factory: pytest.TempPathFactory):
    """`kinko exec --role R -- kinko agent` as a user allowed to assume R; R reads `ag-<id>/*`."""
    n = short_id()
    iam = make_service_client(endpoint, "iam")
    role = f"ag-{n}"
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT}:root"))[
        "Role"
    ]["Arn"]
    iam.put_role_policy(
        RoleName=role,
        PolicyName="read",
        PolicyDocument=policy(
            allow(
                ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                f"arn:aws:secretsmanager:*:*:secret:ag-{n}/*",
            )
        ),
    )
    user = f"ag-op-{n}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="assume", PolicyDocument=policy(allow("sts:AssumeRole", role_arn)))
    creds = Creds.from_access_key(iam.create_access_key(UserName=user))
    sm = make_service_client(endpoint, "secretsmanager")
    allowed, other = f"ag-{n}/db", f"other-ag-{n}/db"
    sm.create_secret(Name=allowed, SecretString=json.dumps({"username": "app", "password": "pw-1"}))
    sm.create_secret(Name=other, SecretString="not-yours")

    token_file = tmp_path_factory.mktemp("agent") / "awssmatoken"
    token_file.write_text(os.urandom(16).hex() + "\n")
    env = clean_env(
        {
            "AWS_ACCESS_KEY_ID": creds.access_key,
            "AWS_SECRET_ACCESS_KEY": creds.secret_key,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_TOKEN": f"file://{token_file}",
        }
    )
    proc = subprocess.Popen(
        [str(kinko_bin()), "exec", "--endpoint", endpoint, "--role", role_arn, "--session-name", "py-agent", "--"]
        + [str(kinko_bin()), "agent", "--port", "0"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            m = AGENT_RE.search(line)
            if m and not found:
                found.append(m.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(STARTUP_TIMEOUT) or not found:
        proc.kill()
        _, err = proc.communicate(timeout=5)
        pytest.fail(f"kinko agent did not start: {err}")
    yield {
        "url": found[0],
        "token_file": token_file,
        "allowed": allowed,
        "other": other,
        "sm": sm,
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/py-agent",
    }
    # SIGTERM to `kinko exec` reaches the agent; both end.
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def read_secret(agent: dict, path: str, token: str | None = None) -> tuple[int, str]:
    """What an application does: the token from the file, a GET with the header, the body."""
    if token is None:
        token = Path(agent["token_file"]).read_text().strip()
    headers = {"X-Aws-Parameters-Secrets-Token": token} if token else {}
    request = urllib.request.Request(agent["url"] + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def query(secret_id: str, **extra: str) -> str:
    return "/secretsmanager/get?" + urllib.parse.urlencode({"secretId": secret_id, **extra})


def test_a_program_reads_its_secret_through_the_agent(agent: dict):
    status, body = read_secret(agent, query(agent["allowed"]))
    assert status == 200, body
    got = json.loads(body)
    assert json.loads(got["SecretString"]) == {"username": "app", "password": "pw-1"}
    assert got["Name"] == agent["allowed"]
    assert got["VersionStages"] == ["AWSCURRENT"]
    described = agent["sm"].describe_secret(SecretId=agent["allowed"])
    assert got["ARN"] == described["ARN"]
    path_form = read_secret(agent, "/v1/" + urllib.parse.quote(agent["allowed"], safe=""))
    assert path_form == (200, body)


def test_refresh_now_reads_a_changed_value(agent: dict):
    version = agent["sm"].put_secret_value(SecretId=agent["allowed"], SecretString="pw-2")["VersionId"]
    # Cached within the TTL ...
    status, body = read_secret(agent, query(agent["allowed"]))
    assert status == 200 and json.loads(body)["VersionId"] != version
    # ... until refreshNow.
    status, body = read_secret(agent, query(agent["allowed"], refreshNow="true"))
    assert status == 200, body
    assert json.loads(body)["SecretString"] == "pw-2"
    assert json.loads(body)["VersionId"] == version


def test_a_secret_the_role_may_not_read_is_access_denied(agent: dict):
    status, body = read_secret(agent, query(agent["other"]))
    assert status == 400, body
    error = json.loads(body)
    assert error["__type"] == "AccessDeniedException"
    assert f"User: {agent['arn']} is not authorized to perform: secretsmanager:GetSecretValue" in error["message"]


def test_without_the_token_the_agent_refuses(agent: dict):
    assert read_secret(agent, query(agent["allowed"]), token="") == (403, "Bad Token")
    assert read_secret(agent, query(agent["allowed"]), token="not-the-token") == (403, "Bad Token")

"""Shared helpers for the AWS compatibility suite (constants, clients, raw signing)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from audit_scan import SEEN

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "000000000000"
ACCESS_KEY = "test"
SECRET_KEY = "test"
STARTUP_TIMEOUT = 20.0
SHUTDOWN_TIMEOUT = 15.0
CLI_TIMEOUT = 60.0

LISTEN_RE = re.compile(r"kinko listening on (http://127\.0\.0\.1:(\d+))")
LISTEN_TLS_RE = re.compile(r"kinko listening on (https://127\.0\.0\.1:(\d+))")
CONTAINER_RE = re.compile(r"kinko serving container credentials on (http://127\.0\.0\.1:\d+/\S+)")

# Exact messages recorded from real AWS (see the Secrets Manager reference).
NOT_FOUND = "Secrets Manager can't find the specified secret."
MARKED_FOR_DELETION = (
    "You can't perform this operation on the secret because it was marked for deletion."
)
INVALID_NAME = (
    "Invalid name. Must be a valid name containing alphanumeric characters, "
    "or any of the following: -/_+=.@!"
)


def secret_arn_re(name: str, region: str = REGION, account: str = ACCOUNT) -> re.Pattern:
    """Pattern of a secret ARN: the name plus a hyphen and 6 random alphanumerics."""
    return re.compile(
        rf"^arn:aws:secretsmanager:{re.escape(region)}:{re.escape(account)}:secret:"
        rf"{re.escape(name)}-[A-Za-z0-9]{{6}}$"
    )


def unique(prefix: str = "compat") -> str:
    """A secret name nobody else in the session uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def kinko_bin() -> Path:
    raw = os.environ.get("KINKO_BIN", "target/debug/kinko")
    path = Path(raw)
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


# The OpenID Connect issuer whose key set the test server reads from a file the tests write.
OIDC_ISSUER = "https://oidc.compat.kinko.test"


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment without any AWS_* settings, loopback never proxied."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("AWS_")}
    no_proxy = "127.0.0.1,localhost"
    env["NO_PROXY"] = no_proxy
    env["no_proxy"] = no_proxy
    if extra:
        env.update(extra)
    return env


def make_client(endpoint: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY):
    session = boto3.session.Session(
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
    )
    return session.client(
        "secretsmanager",
        endpoint_url=endpoint,
        config=Config(
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return (
            f"$ aws {' '.join(self.args)}\nexit {self.returncode}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


class AwsCli:
    """Runs `aws <args>` against the kinko endpoint with isolated configuration."""

    def __init__(self, endpoint: str, config_dir: Path, extra_env: dict[str, str] | None = None):
        self.endpoint = endpoint
        self.config_dir = config_dir
        # More variables for every call (AWS_CA_BUNDLE for an https:// endpoint).
        self.extra_env = extra_env or {}
        version = subprocess.run(
            ["aws", "--version"], capture_output=True, text=True, env=clean_env()
        )
        self.major = 2 if "aws-cli/2" in (version.stdout + version.stderr) else 1
        # Exit status for "the service answered with an error": v2 documents 254,
        # v1 reports every failure, service errors included, as 255.
        self.service_error_rc = 254 if self.major >= 2 else 255

    def env(self, access_key: str, secret_key: str) -> dict[str, str]:
        return clean_env(
            {
                "AWS_ACCESS_KEY_ID": access_key,
                "AWS_SECRET_ACCESS_KEY": secret_key,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_CONFIG_FILE": str(self.config_dir / "config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(self.config_dir / "credentials"),
                "AWS_PAGER": "",
                "AWS_EC2_METADATA_DISABLED": "true",
                **self.extra_env,
            }
        )

    def __call__(
        self,
        *args: str,
        check: bool = True,
        cwd: Path | str | None = None,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
    ) -> CliResult:
        argv = ["aws", "--endpoint-url", self.endpoint]
        if self.major >= 2:
            argv.append("--no-cli-pager")
        argv += list(args)
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=self.env(access_key, secret_key),
            timeout=CLI_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        result = CliResult(list(args), proc.returncode, proc.stdout, proc.stderr)
        SEEN.collect_cli(args, proc.stdout)
        if check:
            assert result.returncode == 0, f"AWS CLI failed\n{result}"
        return result


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body) if self.body else {}

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


def raw_call(
    endpoint: str,
    operation: str,
    payload: dict | bytes | None,
    *,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    signed_at: dt.datetime | None = None,
    service: str = "secretsmanager",
    target_prefix: str = "secretsmanager",
) -> RawResponse:
    """POST a JSON 1.1 request signed with SigV4 (optionally at a chosen time)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload or {}).encode()
    if isinstance(payload, dict):
        SEEN.collect(payload, f"raw {operation}")
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"{target_prefix}.{operation}",
        },
    )
    signer = SigV4Auth(Credentials(access_key, secret_key), service, REGION)
    if signed_at is None:
        signer.add_auth(request)
    else:
        naive = signed_at.astimezone(dt.timezone.utc).replace(tzinfo=None)
        with mock.patch("botocore.auth.get_current_datetime", return_value=naive):
            signer.add_auth(request)
    prepared = request.prepare()
    req = urllib.request.Request(
        prepared.url, data=body, headers=dict(prepared.headers.items()), method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as resp:
            response = RawResponse(resp.status, dict(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as err:
        return RawResponse(err.code, dict(err.headers.items()), err.read())
    try:
        SEEN.collect(json.loads(response.body), f"raw {operation}")
    except ValueError:
        pass
    return response


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def parse_ts(value) -> dt.datetime:
    """A timestamp as printed by the CLI (epoch number or ISO 8601) or parsed by boto3."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    if isinstance(value, str):
        try:
            return dt.datetime.fromtimestamp(float(value), dt.timezone.utc)
        except ValueError:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    raise TypeError(f"not a timestamp: {value!r}")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# ---------------------------------------------------------------------------
# IAM, STS and Organizations: clients for any service and any credentials
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Creds:
    """Credentials a client signs with; ``session_token`` for temporary (STS) ones."""

    access_key: str
    secret_key: str
    session_token: str | None = None

    @classmethod
    def from_sts(cls, response: dict) -> Creds:
        """The ``Credentials`` of an AssumeRole / GetSessionToken response (boto3 or CLI JSON)."""
        c = response["Credentials"]
        return cls(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

    @classmethod
    def from_access_key(cls, response: dict) -> Creds:
        """The ``AccessKey`` of a CreateAccessKey response (boto3 or CLI JSON)."""
        k = response["AccessKey"]
        return cls(k["AccessKeyId"], k["SecretAccessKey"])


ROOT_CREDS = Creds(ACCESS_KEY, SECRET_KEY)


def make_service_client(endpoint: str, service: str, creds: Creds = ROOT_CREDS):
    """A boto3 client for ``service`` signing with ``creds``, no retries."""
    session = boto3.session.Session(
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        aws_session_token=creds.session_token,
        region_name=REGION,
    )
    return session.client(
        service,
        endpoint_url=endpoint,
        config=Config(
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


def aws_as(aws: AwsCli, creds: Creds, *args: str, check: bool = True, cwd=None) -> CliResult:
    """Runs `aws <args>` with ``creds`` (AWS_SESSION_TOKEN set for temporary credentials)."""
    argv = ["aws", "--endpoint-url", aws.endpoint]
    if aws.major >= 2:
        argv.append("--no-cli-pager")
    argv += list(args)
    env = aws.env(creds.access_key, creds.secret_key)
    if creds.session_token:
        env["AWS_SESSION_TOKEN"] = creds.session_token
    proc = subprocess.run(
        argv,
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=CLI_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    result = CliResult(list(args), proc.returncode, proc.stdout, proc.stderr)
    if check:
        assert result.returncode == 0, f"AWS CLI failed\n{result}"
    return result


def cli_create_role(
    aws: AwsCli,
    tmp_path,
    name: str,
    trust_doc: str,
    policy_doc: str | None = None,
    creds: Creds | None = None,
) -> str:
    """`aws iam create-role --assume-role-policy-document file://trust.json`, then `put-role-policy`
    (policy `inline`) when `policy_doc` is given, as `creds` (root by default); the role's ARN."""
    creds = creds or ROOT_CREDS
    (tmp_path / "trust.json").write_text(trust_doc)
    role = aws_as(
        aws,
        creds,
        "iam",
        "create-role",
        "--role-name",
        name,
        "--assume-role-policy-document",
        "file://trust.json",
        cwd=tmp_path,
    ).json()["Role"]
    assert role["RoleId"].startswith("AROA")
    if policy_doc is not None:
        (tmp_path / "role-policy.json").write_text(policy_doc)
        aws_as(
            aws,
            creds,
            "iam",
            "put-role-policy",
            "--role-name",
            name,
            "--policy-name",
            "inline",
            "--policy-document",
            "file://role-policy.json",
            cwd=tmp_path,
        )
    return role["Arn"]


def policy(*statements: dict) -> str:
    """A policy document (JSON text) with the given statements."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resources="*") -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def deny(actions, resources="*") -> dict:
    return {"Effect": "Deny", "Action": actions, "Resource": resources}


def trust(*principals: str, actions="sts:AssumeRole", condition: dict | None = None) -> str:
    """A role trust policy letting the AWS ``principals`` assume the role."""
    stmt = {"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": actions}
    if condition:
        stmt["Condition"] = condition
    return policy(stmt)


def short_id() -> str:
    """12 random hex digits for names that must be unique."""
    return uuid.uuid4().hex[:12]


def denied(principal: str, action: str, resource: str | None, context: str) -> str:
    """`User: <arn> is not authorized to perform: <action>[ on resource: <r>] <context>`."""
    on = f" on resource: {resource}" if resource is not None else ""
    return f"User: {principal} is not authorized to perform: {action}{on} {context}"


def no_identity_policy(principal: str, action: str, resource: str | None) -> str:
    return denied(
        principal, action, resource, f"because no identity-based policy allows the {action} action"
    )


def secret_arn_pattern(name_glob: str, account: str = ACCOUNT) -> str:
    """A Secrets Manager ARN pattern for policies, e.g. ``dev/azure-??????``."""
    return f"arn:aws:secretsmanager:{REGION}:{account}:secret:{name_glob}"


ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
ORG_ACCESS_ROLE = "OrganizationAccountAccessRole"
DEFAULT_KEY_CROSS_ACCOUNT = (
    "You can't access a secret from a different AWS account if you encrypt the secret "
    "with the default KMS service key."
)
# AWS's answer to an unknown access key id, final period included (STS and the JSON services
# alike), and to a session token it can't use, without one (see crates/kinko-server/src/auth.rs).
INVALID_TOKEN = "The security token included in the request is invalid."
UNUSABLE_SESSION_TOKEN = "The security token included in the request is invalid"
EXPIRED_TOKEN = "The security token included in the request is expired"


# ---------------------------------------------------------------------------
# KMS, and Secrets Manager through customer managed keys
# ---------------------------------------------------------------------------

VIA_SECRETSMANAGER = f"secretsmanager.{REGION}.amazonaws.com"
KMS_DENIED = "Access to KMS is not allowed"
DECRYPTION_FAILURE = (
    "Secrets Manager can't decrypt the protected secret text using the provided KMS key."
)
ENCRYPTION_FAILURE = (
    "Secrets Manager can't encrypt the protected secret text using the provided KMS key. "
    "Check that the KMS key is available, enabled, and not in an invalid state."
)
INCORRECT_KEY = (
    "The key ID in the request does not identify a CMK that can perform this operation."
)


def account_root(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def key_arn_re(account: str = ACCOUNT) -> re.Pattern:
    """Pattern of a KMS key ARN (the key id is a UUID)."""
    return re.compile(
        rf"^arn:aws:kms:{re.escape(REGION)}:{re.escape(account)}:key/"
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    )


def alias_arn(alias_name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:kms:{REGION}:{account}:{alias_name}"


def key_root_statement(account: str = ACCOUNT) -> dict:
    """The default key policy's statement: the account's IAM policies decide."""
    return {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": account_root(account)},
        "Action": "kms:*",
        "Resource": "*",
    }


def via_secretsmanager_grant(principals: list[str], actions="kms:Decrypt") -> dict:
    """A key policy statement allowing ``principals`` ``actions`` only through Secrets Manager."""
    return {
        "Sid": "AllowUseThroughSecretsManager",
        "Effect": "Allow",
        "Principal": {"AWS": principals},
        "Action": actions,
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": VIA_SECRETSMANAGER}},
    }


def resource_grant(principals: list[str], actions="secretsmanager:GetSecretValue") -> str:
    """A secret's resource policy allowing ``principals`` ``actions``."""
    return policy(
        {"Effect": "Allow", "Principal": {"AWS": principals}, "Action": actions, "Resource": "*"}
    )


def azure_connection_string(account_name: str) -> str:
    """An Azure Storage connection string (the key is fake, base64 like a real one)."""
    account_key = base64.b64encode(f"key-of-{account_name}".encode()).decode()
    return (
        f"DefaultEndpointsProtocol=https;AccountName={account_name};"
        f"AccountKey={account_key};EndpointSuffix=core.windows.net"
    )


def assert_cli_error(aws: AwsCli, result: CliResult, code: str, operation: str, message: str):
    """The CLI failed with exactly this service error (code, operation and full message)."""
    assert result.returncode == aws.service_error_rc, str(result)
    expected = f"An error occurred ({code}) when calling the {operation} operation: {message}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[-1] == expected, f"expected {expected!r}\n{result}"


def client_error(fn, **kwargs) -> tuple[str, str, int]:
    """Calls a boto3 operation expecting a service error: (code, message, HTTP status)."""
    try:
        fn(**kwargs)
    except ClientError as err:
        resp = err.response
        return (
            resp["Error"]["Code"],
            resp["Error"].get("Message", ""),
            resp["ResponseMetadata"]["HTTPStatusCode"],
        )
    raise AssertionError(f"{getattr(fn, '__name__', fn)}({kwargs}) succeeded")


def _await_account(status: dict, poll) -> str:
    """Polls a CreateAccountStatus until it settles; returns the new account's id."""
    deadline = time.monotonic() + 10
    while status["State"] == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.1)
        status = poll(status["Id"])
    assert status["State"] == "SUCCEEDED", status
    account_id = status["AccountId"]
    assert len(account_id) == 12 and account_id.isdigit() and account_id != ACCOUNT
    return account_id


def new_member_account(org) -> str:
    """A member account of the organization (boto3 ``organizations`` client)."""
    p = short_id()
    status = org.create_account(Email=f"member-{p}@example.com", AccountName=f"member-{p}")
    return _await_account(
        status["CreateAccountStatus"],
        lambda request_id: org.describe_create_account_status(
            CreateAccountRequestId=request_id
        )["CreateAccountStatus"],
    )


def new_member_account_cli(aws: AwsCli) -> str:
    """`aws organizations create-account` (then describe-create-account-status while pending)."""
    p = short_id()
    status = aws(
        "organizations",
        "create-account",
        "--email",
        f"member-{p}@example.com",
        "--account-name",
        f"member-{p}",
    ).json()["CreateAccountStatus"]
    return _await_account(
        status,
        lambda request_id: aws(
            "organizations",
            "describe-create-account-status",
            "--create-account-request-id",
            request_id,
        ).json()["CreateAccountStatus"],
    )


def aws_pipeline(aws: AwsCli, script: str, cwd: Path | str, creds: Creds = ROOT_CREDS) -> CliResult:
    """Runs a bash pipeline of `aws` commands as a user types it, in ``cwd``; ``$ENDPOINT`` is the
    kinko endpoint (`aws --endpoint-url "$ENDPOINT" kms decrypt ... | base64 --decode > out`)."""
    env = aws.env(creds.access_key, creds.secret_key)
    if creds.session_token:
        env["AWS_SESSION_TOKEN"] = creds.session_token
    env["ENDPOINT"] = aws.endpoint
    proc = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=CLI_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    result = CliResult(["<pipeline>", script], proc.returncode, proc.stdout, proc.stderr)
    assert result.returncode == 0, f"pipeline failed\n{result}"
    return result

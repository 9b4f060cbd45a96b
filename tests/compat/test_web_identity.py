"""Web identity with unmodified boto3 and AWS CLI: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN.

The test is its own OpenID Connect issuer: it makes an RSA key, writes its key set (JWKS) where
the server reads the issuer's keys, and signs an RS256 token for a CI job. A role trusts the
issuer's provider for that job's subject. boto3 and the CLI, with no AWS_ACCESS_KEY_ID anywhere,
exchange the token file for the role's credentials (AssumeRoleWithWebIdentity, unsigned), read
the secret the role allows and get AccessDeniedException, naming the assumed-role ARN, for
another. A token signed by a key the issuer doesn't publish gets nothing.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kinko_compat import ACCOUNT, OIDC_ISSUER, REGION, allow, clean_env, make_service_client, policy, short_id

AUDIENCE = "sts.amazonaws.com"
NAME = OIDC_ISSUER.removeprefix("https://")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n: int) -> str:
    return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def sign(key: rsa.RSAPrivateKey, kid: str, claims: dict) -> str:
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


CHILD = textwrap.dedent(
    """
    import json, os, sys
    import boto3
    from botocore.exceptions import ClientError
    assert "AWS_ACCESS_KEY_ID" not in os.environ
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


@pytest.fixture(scope="module")
def issuer(kinko_server):
    """The issuer's signing key, published in the key set the server reads."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    jwk = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k1", "n": uint(numbers.n), "e": uint(numbers.e)}
    kinko_server.oidc_jwks.write_text(json.dumps({"keys": [jwk]}))
    return key


@pytest.fixture(scope="module")
def job(endpoint: str, issuer, tmp_path_factory):
    """A provider, a role trusting it for one repository's jobs, an allowed and a denied secret."""
    n = short_id()
    iam = make_service_client(endpoint, "iam")
    try:
        iam.create_open_id_connect_provider(Url=OIDC_ISSUER, ClientIDList=[AUDIENCE])
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{NAME}"
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {f"{NAME}:aud": AUDIENCE},
                "StringLike": {f"{NAME}:sub": f"repo:org/app-{n}:*"},
            },
        }
    )
    role = f"ci-{n}"
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role,
        PolicyName="read",
        PolicyDocument=policy(allow(["secretsmanager:GetSecretValue"], [f"arn:aws:secretsmanager:*:*:secret:ci-{n}/*"])),
    )
    sm = make_service_client(endpoint, "secretsmanager")
    allowed, other = f"ci-{n}/deploy-key", f"other-{n}/db"
    sm.create_secret(Name=allowed, SecretString="deploy-key-value")
    sm.create_secret(Name=other, SecretString="not for ci")
    now = int(time.time())
    claims = {
        "iss": OIDC_ISSUER,
        "aud": AUDIENCE,
        "sub": f"repo:org/app-{n}:ref:refs/heads/main",
        "iat": now,
        "nbf": now - 5,
        "exp": now + 600,
    }
    token_file = tmp_path_factory.mktemp("token") / "token"
    token_file.write_text(sign(issuer, "k1", claims))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged_file = token_file.with_name("forged")
    forged_file.write_text(sign(stranger, "k1", claims))
    return {
        "role": role,
        "role_arn": role_arn,
        "allowed": allowed,
        "other": other,
        "token_file": str(token_file),
        "forged_file": str(forged_file),
    }


def web_identity_env(endpoint: str, job: dict, token_file: str) -> dict[str, str]:
    # A home of its own: the CLI caches assumed-role credentials under ~/.aws/cli/cache.
    home = tempfile.mkdtemp(prefix="kinko-web-identity-")
    return clean_env(
        {
            "HOME": home,
            "AWS_WEB_IDENTITY_TOKEN_FILE": token_file,
            "AWS_ROLE_ARN": job["role_arn"],
            "AWS_ROLE_SESSION_NAME": "ci-job",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
        }
    )


def test_boto3_reads_with_a_web_identity_token_file(endpoint: str, job: dict):
    env = web_identity_env(endpoint, job, job["token_file"])
    out = subprocess.run(
        [sys.executable, "-c", CHILD, job["allowed"], job["other"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{job['role']}/ci-job"
    assert got["arn"] == session
    assert got["value"] == "deploy-key-value"
    code, message = got["denied"]
    assert code == "AccessDeniedException"
    assert message.startswith(f"User: {session} is not authorized to perform: secretsmanager:GetSecretValue")


def test_the_cli_reads_with_a_web_identity_token_file(endpoint: str, job: dict):
    env = web_identity_env(endpoint, job, job["token_file"])
    read = ["aws", "secretsmanager", "get-secret-value", "--query", "SecretString", "--output", "text"]
    out = subprocess.run([*read, "--secret-id", job["allowed"]], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "deploy-key-value"
    denied = subprocess.run([*read, "--secret-id", job["other"]], env=env, capture_output=True, text=True, timeout=60)
    assert denied.returncode != 0
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{job['role']}/ci-job"
    assert "AccessDeniedException" in denied.stderr
    assert f"User: {session} is not authorized" in denied.stderr


def test_a_token_signed_by_another_key_gets_nothing(endpoint: str, job: dict):
    env = web_identity_env(endpoint, job, job["forged_file"])
    out = subprocess.run(
        ["aws", "sts", "get-caller-identity"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0
    assert "InvalidIdentityToken" in out.stderr, out.stderr

"""`kinko exec` with unmodified boto3 and AWS CLI children.

The caller (an IAM user allowed to assume one role) runs `kinko exec --role ...`; the child has
no AWS_ACCESS_KEY_ID in its environment, and its default credential chain gets the role's
session from the per-child credentials endpoint. It reads the secret the role allows and gets
AccessDeniedException naming its assumed-role ARN for one it doesn't. `--instance-profile` runs
under the role of an instance profile.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from kinko_compat import (
    ACCOUNT,
    REGION,
    Creds,
    allow,
    clean_env,
    kinko_bin,
    make_service_client,
    policy,
    short_id,
    trust,
)

CHILD = textwrap.dedent(
    """
    import json, os, sys
    import boto3
    from botocore.exceptions import ClientError
    assert "AWS_ACCESS_KEY_ID" not in os.environ, "static keys in the child's environment"
    me = boto3.client("sts").get_caller_identity()["Arn"]
    sm = boto3.client("secretsmanager")
    value = sm.get_secret_value(SecretId=sys.argv[1])["SecretString"]
    try:
        sm.get_secret_value(SecretId=sys.argv[2])
        denied = None
    except ClientError as e:
        denied = [e.response["Error"]["Code"], e.response["Error"]["Message"]]
    print(json.dumps({"arn": me, "value": value, "denied": denied, "env": os.environ.get("DB_USER")}))
    """
)


@pytest.fixture(scope="module")
def workload(endpoint: str):
    """A role reading `wl-<id>/*`, a user allowed to assume it, an allowed and a denied secret."""
    n = short_id()
    iam = make_service_client(endpoint, "iam")
    role = f"wl-{n}"
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT}:root"))[
        "Role"
    ]["Arn"]
    iam.put_role_policy(
        RoleName=role,
        PolicyName="read",
        PolicyDocument=policy(allow("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:*:*:secret:wl-{n}/*")),
    )
    user = f"op-{n}"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="assume",
        PolicyDocument=policy(allow(["sts:AssumeRole", "iam:GetInstanceProfile"], "*")),
    )
    creds = Creds.from_access_key(iam.create_access_key(UserName=user))
    sm = make_service_client(endpoint, "secretsmanager")
    allowed, other = f"wl-{n}/db", f"other-{n}/db"
    sm.create_secret(Name=allowed, SecretString=json.dumps({"user": "app", "password": "pw"}))
    sm.create_secret(Name=other, SecretString="no")
    return {"role": role, "role_arn": role_arn, "creds": creds, "allowed": allowed, "other": other, "iam": iam}


def run_exec(endpoint: str, creds: Creds, args: list[str]) -> subprocess.CompletedProcess:
    env = clean_env(
        {
            "AWS_ACCESS_KEY_ID": creds.access_key,
            "AWS_SECRET_ACCESS_KEY": creds.secret_key,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return subprocess.run(
        [str(kinko_bin()), "exec", "--endpoint", endpoint, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def check_child(out: subprocess.CompletedProcess, workload: dict, session: str) -> None:
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    got = json.loads(out.stdout.strip().splitlines()[-1])
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{workload['role']}/{session}"
    assert got["arn"] == arn
    assert json.loads(got["value"])["password"] == "pw"
    code, message = got["denied"]
    assert code == "AccessDeniedException"
    assert f"User: {arn} is not authorized to perform: secretsmanager:GetSecretValue" in message


def test_boto3_child_runs_as_the_role(endpoint: str, workload: dict):
    out = run_exec(
        endpoint,
        workload["creds"],
        [
            "--role",
            workload["role_arn"],
            "--session-name",
            "boto3-child",
            "--secret",
            f"DB_USER={workload['allowed']}:user",
            "--",
            sys.executable,
            "-c",
            CHILD,
            workload["allowed"],
            workload["other"],
        ],
    )
    check_child(out, workload, "boto3-child")
    assert json.loads(out.stdout.strip().splitlines()[-1])["env"] == "app"


def test_aws_cli_child_runs_as_the_role(endpoint: str, workload: dict):
    script = (
        "test -z \"$AWS_ACCESS_KEY_ID\" || exit 9; "
        "aws sts get-caller-identity --query Arn --output text; "
        f"aws secretsmanager get-secret-value --secret-id {workload['allowed']} --query SecretString --output text; "
        f"aws secretsmanager get-secret-value --secret-id {workload['other']}; echo rc=$?"
    )
    out = run_exec(
        endpoint,
        workload["creds"],
        ["--role", workload["role_arn"], "--session-name", "cli-child", "--", "sh", "-c", script],
    )
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{workload['role']}/cli-child"
    lines = out.stdout.strip().splitlines()
    assert lines[0] == arn
    assert json.loads(lines[1])["password"] == "pw"
    assert lines[-1] != "rc=0"
    assert "(AccessDeniedException)" in out.stderr
    assert f"User: {arn} is not authorized to perform: secretsmanager:GetSecretValue" in out.stderr


def test_instance_profile_child_runs_as_its_role(endpoint: str, workload: dict):
    profile = f"{workload['role']}-profile"
    workload["iam"].create_instance_profile(InstanceProfileName=profile)
    workload["iam"].add_role_to_instance_profile(InstanceProfileName=profile, RoleName=workload["role"])
    out = run_exec(
        endpoint,
        workload["creds"],
        [
            "--instance-profile",
            profile,
            "--session-name",
            "profile-child",
            "--",
            sys.executable,
            "-c",
            CHILD,
            workload["allowed"],
            workload["other"],
        ],
    )
    check_child(out, workload, "profile-child")


def test_caller_who_may_not_assume_gets_access_denied(endpoint: str, workload: dict):
    user = f"nobody-{short_id()}"
    workload["iam"].create_user(UserName=user)
    creds = Creds.from_access_key(workload["iam"].create_access_key(UserName=user))
    out = run_exec(endpoint, creds, ["--role", workload["role_arn"], "--", "true"])
    assert out.returncode == 125
    assert f"AccessDenied: User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: sts:AssumeRole" in out.stderr


def test_imds_child_runs_as_the_instance_profile_role(endpoint: str, workload: dict):
    """boto3 and the AWS CLI read the role's credentials from the IMDSv2 endpoint, and the
    region from the instance identity document; IMDSv1 is refused."""
    profile = f"{workload['role']}-imds"
    workload["iam"].create_instance_profile(InstanceProfileName=profile)
    workload["iam"].add_role_to_instance_profile(InstanceProfileName=profile, RoleName=workload["role"])
    imds_child = CHILD + textwrap.dedent(
        """
        import urllib.request, urllib.error
        base = os.environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"].rstrip("/")
        assert "AWS_CONTAINER_CREDENTIALS_FULL_URI" not in os.environ
        try:
            urllib.request.urlopen(base + "/latest/meta-data/iam/security-credentials/")
            raise SystemExit("IMDSv1 answered")
        except urllib.error.HTTPError as e:
            assert e.code == 401, e.code
        put = urllib.request.Request(base + "/latest/api/token", method="PUT",
                                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        token = urllib.request.urlopen(put).read().decode()
        get = lambda p: urllib.request.urlopen(urllib.request.Request(
            base + p, headers={"X-aws-ec2-metadata-token": token})).read().decode()
        role = get("/latest/meta-data/iam/security-credentials/")
        creds = json.loads(get("/latest/meta-data/iam/security-credentials/" + role))
        assert creds["Code"] == "Success" and creds["Type"] == "AWS-HMAC", creds
        assert creds["Expiration"].endswith("Z") and "." not in creds["Expiration"], creds
        info = json.loads(get("/latest/meta-data/iam/info"))
        assert info["InstanceProfileArn"].endswith(":instance-profile/" + sys.argv[3]), info
        doc = json.loads(get("/latest/dynamic/instance-identity/document"))
        assert doc["region"] == "us-east-1", doc
        print(json.dumps({"role": role}))
        """
    )
    out = run_exec(
        endpoint,
        workload["creds"],
        [
            "--instance-profile",
            profile,
            "--imds",
            "--session-name",
            "imds-child",
            "--",
            sys.executable,
            "-c",
            imds_child,
            workload["allowed"],
            workload["other"],
            profile,
        ],
    )
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    lines = out.stdout.strip().splitlines()
    assert json.loads(lines[-1])["role"] == workload["role"]
    out.stdout = lines[-2]
    check_child(out, workload, "imds-child")
    cli = run_exec(
        endpoint,
        workload["creds"],
        ["--instance-profile", profile, "--imds", "--session-name", "imds-cli", "--",
         "sh", "-c", "aws sts get-caller-identity --query Arn --output text"],
    )
    assert cli.returncode == 0, f"{cli.stdout}\n{cli.stderr}"
    assert cli.stdout.strip() == f"arn:aws:sts::{ACCOUNT}:assumed-role/{workload['role']}/imds-cli"

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

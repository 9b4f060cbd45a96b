"""The AWS CLI, unmodified, rotating a secret: `aws secretsmanager rotate-secret` with a Python
rotation function (boto3, the four steps) that kinko runs, then `describe-secret`; a function
Secrets Manager may not invoke; and RotateSecret on the wire without a ClientRequestToken."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
import urllib.parse
import zipfile

import pytest

from kinko_compat import ACCOUNT, REGION, assert_cli_error, policy, short_id

LAMBDA_TRUST = policy(
    {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
)

ROTATION_FUNCTION = b"""import boto3

client = boto3.client('secretsmanager')


def lambda_handler(event, context):
    arn, token, step = event['SecretId'], event['ClientRequestToken'], event['Step']
    versions = client.describe_secret(SecretId=arn)['VersionIdsToStages']
    if 'AWSCURRENT' in versions.get(token, []):
        return
    if step == 'createSecret':
        try:
            client.get_secret_value(SecretId=arn, VersionId=token, VersionStage='AWSPENDING')
        except client.exceptions.ResourceNotFoundException:
            password = client.get_random_password(PasswordLength=24)['RandomPassword']
            client.put_secret_value(SecretId=arn, ClientRequestToken=token,
                                    SecretString=password, VersionStages=['AWSPENDING'])
    elif step == 'finishSecret':
        current = [v for v, s in versions.items() if 'AWSCURRENT' in s][0]
        client.update_secret_version_stage(SecretId=arn, VersionStage='AWSCURRENT',
                                           MoveToVersionId=token, RemoveFromVersionId=current)
"""

CANNOT_INVOKE = (
    "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function "
    "policy grants access to the principal secretsmanager.amazonaws.com."
)


def rotation_role(aws, tmp_path, secret_arn: str) -> str:
    """A role for rotation functions of `secret_arn`, with the permissions AWS documents."""
    role_name = f"rotation-{short_id()}"
    (tmp_path / "trust.json").write_text(LAMBDA_TRUST)
    role = aws(
        "iam",
        "create-role",
        "--role-name",
        role_name,
        "--assume-role-policy-document",
        "file://trust.json",
        cwd=tmp_path,
    ).json()["Role"]["Arn"]
    (tmp_path / "policy.json").write_text(
        policy(
            {
                "Effect": "Allow",
                "Action": [
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:UpdateSecretVersionStage",
                ],
                "Resource": secret_arn,
            },
            {"Effect": "Allow", "Action": "secretsmanager:GetRandomPassword", "Resource": "*"},
        )
    )
    aws(
        "iam",
        "put-role-policy",
        "--role-name",
        role_name,
        "--policy-name",
        "rotate",
        "--policy-document",
        "file://policy.json",
        cwd=tmp_path,
    )
    return role


def rotation_function(aws, tmp_path, secret_arn: str) -> str:
    role = rotation_role(aws, tmp_path, secret_arn)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("lambda_function.py", ROTATION_FUNCTION)
    (tmp_path / "function.zip").write_bytes(buf.getvalue())
    name = f"rotate-{short_id()}"
    aws(
        "lambda",
        "create-function",
        "--function-name",
        name,
        "--runtime",
        "python3.12",
        "--handler",
        "lambda_function.lambda_handler",
        "--role",
        role,
        "--timeout",
        "30",
        "--zip-file",
        "fileb://function.zip",
        cwd=tmp_path,
    )
    aws("lambda", "wait", "function-active-v2", "--function-name", name)
    return name


def allow_secrets_manager(aws, function: str) -> None:
    aws(
        "lambda",
        "add-permission",
        "--function-name",
        function,
        "--statement-id",
        "SecretsManager",
        "--action",
        "lambda:InvokeFunction",
        "--principal",
        "secretsmanager.amazonaws.com",
        "--source-account",
        ACCOUNT,
    )


def wait_for_rotation(aws, arn: str, version: str) -> dict:
    """DescribeSecret once the rotation to `version` has finished."""
    described = {}
    for _ in range(600):
        described = aws("secretsmanager", "describe-secret", "--secret-id", arn).json()
        stages = described.get("VersionIdsToStages", {})
        if "LastRotatedDate" in described and "AWSPENDING" not in stages.get(version, []):
            break
        time.sleep(0.1)
    return described


def test_rotate_secret_then_describe_secret(aws, tmp_path):
    secret = aws(
        "secretsmanager", "create-secret", "--name", f"rotated-{short_id()}", "--secret-string", "v1"
    ).json()
    arn = secret["ARN"]
    function = rotation_function(aws, tmp_path, arn)
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"

    # Without a statement for Secrets Manager in the function's policy: refused, nothing changes.
    denied = aws(
        "secretsmanager",
        "rotate-secret",
        "--secret-id",
        arn,
        "--rotation-lambda-arn",
        function_arn,
        check=False,
    )
    assert_cli_error(aws, denied, "AccessDeniedException", "RotateSecret", CANNOT_INVOKE)
    assert "RotationEnabled" not in aws("secretsmanager", "describe-secret", "--secret-id", arn).json()

    allow_secrets_manager(aws, function)
    out = aws(
        "secretsmanager",
        "rotate-secret",
        "--secret-id",
        arn,
        "--rotation-lambda-arn",
        function_arn,
        "--rotation-rules",
        '{"AutomaticallyAfterDays": 7}',
    ).json()
    assert out["ARN"] == arn
    assert out["Name"] == secret["Name"]
    new_version = out["VersionId"]

    described = wait_for_rotation(aws, arn, new_version)
    assert described["VersionIdsToStages"] == {
        secret["VersionId"]: ["AWSPREVIOUS"],
        new_version: ["AWSCURRENT"],
    }
    assert described["RotationEnabled"] is True
    assert described["RotationLambdaARN"] == function_arn
    assert described["RotationRules"] == {"AutomaticallyAfterDays": 7}
    assert "NextRotationDate" in described

    value = aws("secretsmanager", "get-secret-value", "--secret-id", arn).json()
    assert value["VersionId"] == new_version
    assert len(value["SecretString"]) == 24

    cancelled = aws("secretsmanager", "cancel-rotate-secret", "--secret-id", arn).json()
    assert cancelled == {"ARN": arn, "Name": secret["Name"]}
    described = aws("secretsmanager", "describe-secret", "--secret-id", arn).json()
    assert described["RotationEnabled"] is False
    assert "NextRotationDate" not in described


def test_rotate_secret_without_a_token_on_the_wire(raw):
    resp = raw("RotateSecret", {"SecretId": f"missing-{short_id()}"})
    assert resp.status == 400
    assert resp.json() == {
        "__type": "InvalidParameterException",
        "Message": "You must provide a ClientRequestToken value. We recommend a UUID-type value.",
    }


def mariadb(url, *sql_args: str, user: str = "", password: str = "") -> subprocess.CompletedProcess:
    """The `mariadb` client on the database of `url`, as `user` (the URL's by default)."""
    env = dict(os.environ)
    env["MYSQL_PWD"] = password if user else (url.password or "")
    return subprocess.run(
        ["mariadb", "--protocol=TCP", "-h", url.hostname, "-P", str(url.port or 3306),
         "-u", user or url.username, "--batch", "--skip-column-names", *sql_args],
        env=env, capture_output=True, text=True, timeout=30,
    )


def test_the_builtin_rotator_rotates_a_mariadb_password_with_the_cli(aws, tmp_path):
    """README "Without Python: kinko's built-in rotators": a function on provided.al2023 with
    the handler kinko:MariaDBSingleUser and no package, rotating a real MariaDB user's password."""
    url_text = os.environ.get("KINKO_TEST_MYSQL_URL")
    if not url_text:
        pytest.skip("KINKO_TEST_MYSQL_URL is not set: no MariaDB to rotate a password in")
    url = urllib.parse.urlparse(url_text)
    user, first = f"kinko_{short_id()}", f"Pw{short_id()}{short_id()}"
    created = mariadb(url, "-e", f"CREATE USER '{user}'@'%' IDENTIFIED BY '{first}'")
    assert created.returncode == 0, created.stderr
    try:
        assert mariadb(url, "-e", "SELECT 1", user=user, password=first).returncode == 0
        value = {"engine": "mariadb", "host": url.hostname, "port": url.port or 3306,
                 "username": user, "password": first}
        arn = aws("secretsmanager", "create-secret", "--name", f"app/db-{short_id()}",
                  "--secret-string", json.dumps(value)).json()["ARN"]
        role = rotation_role(aws, tmp_path, arn)
        function = f"rotate-builtin-{short_id()}"
        created = aws("lambda", "create-function", "--function-name", function,
                      "--runtime", "provided.al2023", "--handler", "kinko:MariaDBSingleUser",
                      "--role", role, "--timeout", "30", "--code", "{}").json()
        assert created["Handler"] == "kinko:MariaDBSingleUser"
        allow_secrets_manager(aws, function)
        out = aws("secretsmanager", "rotate-secret", "--secret-id", arn,
                  "--rotation-lambda-arn", created["FunctionArn"],
                  "--rotation-rules", '{"ScheduleExpression": "cron(0 2 ? * SUN *)", "Duration": "4h"}'
                  ).json()
        described = wait_for_rotation(aws, arn, out["VersionId"])
        assert described["VersionIdsToStages"][out["VersionId"]] == ["AWSCURRENT"]
        rotated = json.loads(aws("secretsmanager", "get-secret-value", "--secret-id", arn,
                                 "--query", "SecretString", "--output", "text").stdout)
        assert rotated["username"] == user
        assert rotated["password"] != first and len(rotated["password"]) == 32
        assert mariadb(url, "-e", "SELECT 1", user=user, password=rotated["password"]).returncode == 0
        assert mariadb(url, "-e", "SELECT 1", user=user, password=first).returncode != 0
    finally:
        mariadb(url, "-e", f"DROP USER IF EXISTS '{user}'@'%'")

"""The AWS CLI, unmodified, against kinko's Lambda API: create-function from a zip file,
get-function, list-functions, delete-function, and the errors the CLI prints."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile

from kinko_compat import ACCOUNT, REGION, assert_cli_error, policy, short_id

LAMBDA_TRUST = policy(
    {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
)

HANDLER = b"""const AWS = require('aws-sdk')
exports.handler = async function (event, context) {
  const secretsManager = new AWS.SecretsManager({ region: 'ap-northeast-1' })
  const response = await secretsManager.getSecretValue({ SecretId: 'MySecret' }).promise()
  return JSON.stringify({ response }, null, 2)
}
"""


def function_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("index.js", HANDLER)
    return buf.getvalue()


def test_create_get_list_delete(aws, tmp_path):
    role_name = f"lambda-{short_id()}"
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
    data = function_zip()
    (tmp_path / "function.zip").write_bytes(data)
    name = f"reader-{short_id()}"
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    created = aws(
        "lambda",
        "create-function",
        "--function-name",
        name,
        "--runtime",
        "nodejs12.x",
        "--handler",
        "index.handler",
        "--role",
        role,
        "--zip-file",
        "fileb://function.zip",
        cwd=tmp_path,
    ).json()
    assert created["FunctionArn"] == arn
    assert created["Runtime"] == "nodejs12.x"
    assert created["CodeSize"] == len(data)
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert created["State"] == "Pending"

    aws("lambda", "wait", "function-active-v2", "--function-name", name)
    got = aws("lambda", "get-function", "--function-name", name).json()
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["Handler"] == "index.handler"
    assert got["Configuration"]["Role"] == role

    listed = aws("lambda", "list-functions").json()["Functions"]
    assert [f["FunctionArn"] for f in listed].count(arn) == 1

    # The CLI pages with --max-items / --starting-token on its own.
    page = aws("lambda", "list-functions", "--max-items", "1").json()
    assert len(page["Functions"]) == 1

    again = aws(
        "lambda",
        "create-function",
        "--function-name",
        name,
        "--runtime",
        "nodejs12.x",
        "--handler",
        "index.handler",
        "--role",
        role,
        "--zip-file",
        "fileb://function.zip",
        cwd=tmp_path,
        check=False,
    )
    assert_cli_error(
        aws, again, "ResourceConflictException", "CreateFunction", f"Function already exist: {name}"
    )

    aws("lambda", "delete-function", "--function-name", name)
    gone = aws("lambda", "get-function", "--function-name", name, check=False)
    assert_cli_error(
        aws, gone, "ResourceNotFoundException", "GetFunction", f"Function not found: {arn}"
    )


def test_a_role_lambda_cannot_assume(aws, tmp_path):
    role_name = f"ec2-only-{short_id()}"
    (tmp_path / "trust.json").write_text(
        policy(
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        )
    )
    role = aws(
        "iam",
        "create-role",
        "--role-name",
        role_name,
        "--assume-role-policy-document",
        "file://trust.json",
        cwd=tmp_path,
    ).json()["Role"]["Arn"]
    (tmp_path / "function.zip").write_bytes(function_zip())
    result = aws(
        "lambda",
        "create-function",
        "--function-name",
        f"untrusted-{short_id()}",
        "--runtime",
        "nodejs12.x",
        "--handler",
        "index.handler",
        "--role",
        role,
        "--zip-file",
        "fileb://function.zip",
        cwd=tmp_path,
        check=False,
    )
    assert_cli_error(
        aws,
        result,
        "InvalidParameterValueException",
        "CreateFunction",
        "The role defined for the function cannot be assumed by Lambda.",
    )

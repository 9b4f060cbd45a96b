"""The AWS CLI, unmodified, against kinko's Lambda API: create-function from a zip file,
get-function, list-functions, delete-function, the errors the CLI prints, and invoke running the
guide's function under its execution role."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile

from kinko_compat import ACCOUNT, REGION, assert_cli_error, cli_create_role, policy, short_id

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


def create_function(aws, tmp_path, name: str, role: str, check: bool = True):
    """`aws lambda create-function` of the guide's function (nodejs12.x) from `function.zip`."""
    (tmp_path / "function.zip").write_bytes(function_zip())
    return aws(
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
        check=check,
    )


def test_create_get_list_delete(aws, tmp_path):
    role = cli_create_role(aws, tmp_path, f"lambda-{short_id()}", LAMBDA_TRUST)
    data = function_zip()
    name = f"reader-{short_id()}"
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    created = create_function(aws, tmp_path, name, role).json()
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

    again = create_function(aws, tmp_path, name, role, check=False)
    assert_cli_error(
        aws, again, "ResourceConflictException", "CreateFunction", f"Function already exist: {name}"
    )

    aws("lambda", "delete-function", "--function-name", name)
    gone = aws("lambda", "get-function", "--function-name", name, check=False)
    assert_cli_error(
        aws, gone, "ResourceNotFoundException", "GetFunction", f"Function not found: {arn}"
    )


def test_a_role_lambda_cannot_assume(aws, tmp_path):
    role = cli_create_role(
        aws,
        tmp_path,
        f"ec2-only-{short_id()}",
        policy(
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ),
    )
    result = create_function(aws, tmp_path, f"untrusted-{short_id()}", role, check=False)
    assert_cli_error(
        aws,
        result,
        "InvalidParameterValueException",
        "CreateFunction",
        "The role defined for the function cannot be assumed by Lambda.",
    )


def create_guide_function(aws, tmp_path, name: str, role: str) -> None:
    create_function(aws, tmp_path, name, role)
    aws("lambda", "wait", "function-active-v2", "--function-name", name)


def test_the_guides_function_runs_under_its_role(aws, tmp_path):
    """The guide's Node.js function, unchanged, run with `aws lambda invoke`: under a role that may
    read MySecret it returns the secret; under a role that may not, the AccessDeniedException."""
    value = '{"username":"guide","password":"cli-guide-pass"}'
    secret = aws(
        "--region",
        "ap-northeast-1",
        "secretsmanager",
        "create-secret",
        "--name",
        "MySecret",
        "--secret-string",
        value,
    ).json()
    reader_role_name = f"guide-reader-{short_id()}"
    reader_role = cli_create_role(
        aws,
        tmp_path,
        reader_role_name,
        LAMBDA_TRUST,
        policy(
            {
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secret["ARN"],
            }
        ),
    )
    other_role_name = f"guide-other-{short_id()}"
    other_role = cli_create_role(aws, tmp_path, other_role_name, LAMBDA_TRUST)
    reader = f"guide-reader-{short_id()}"
    other = f"guide-other-{short_id()}"
    create_guide_function(aws, tmp_path, reader, reader_role)
    create_guide_function(aws, tmp_path, other, other_role)

    out = aws("lambda", "invoke", "--function-name", reader, "outfile", cwd=tmp_path).json()
    assert out == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    returned = json.loads((tmp_path / "outfile").read_text())
    response = json.loads(returned)["response"]
    assert response["Name"] == "MySecret"
    assert response["ARN"] == secret["ARN"]
    assert response["SecretString"] == value

    out = aws("lambda", "invoke", "--function-name", other, "outfile", cwd=tmp_path).json()
    assert out == {
        "StatusCode": 200,
        "FunctionError": "Unhandled",
        "ExecutedVersion": "$LATEST",
    }
    error = json.loads((tmp_path / "outfile").read_text())
    assert error["errorType"] == "AccessDeniedException"
    assert error["errorMessage"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{other_role_name}/{other} is not authorized "
        "to perform: secretsmanager:GetSecretValue on resource: MySecret because no "
        "identity-based policy allows the secretsmanager:GetSecretValue action"
    )

    # --log-type Tail: the last 4 KB of the invocation's log, base64, with Lambda's lines.
    out = aws(
        "lambda",
        "invoke",
        "--function-name",
        reader,
        "--log-type",
        "Tail",
        "outfile",
        cwd=tmp_path,
    ).json()
    log = base64.b64decode(out["LogResult"]).decode()
    assert "START RequestId: " in log and "REPORT RequestId: " in log, log

"""The AWS CLI, unmodified, against kinko: service-linked roles (create, the protected role
DeleteRole refuses, delete and its task status) and the credential report."""

from __future__ import annotations

import base64
import json
import urllib.parse

from kinko_compat import ACCOUNT, ROOT_ARN, short_id


def test_service_linked_role_lifecycle(aws):
    suffix = short_id()
    role = aws(
        "iam",
        "create-service-linked-role",
        "--aws-service-name",
        "autoscaling.amazonaws.com",
        "--custom-suffix",
        suffix,
        "--description",
        "scaling",
    ).json()["Role"]
    name = f"AWSServiceRoleForAutoScaling_{suffix}"
    assert role["RoleName"] == name
    assert role["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    assert role["Arn"] == (
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/{name}"
    )
    # The CLI decodes the URL-encoded trust policy IAM sends.
    trust = role["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(urllib.parse.unquote(trust))
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["autoscaling.amazonaws.com"]},
            "Action": ["sts:AssumeRole"],
        }
    ]

    refused = aws("iam", "delete-role", "--role-name", name, check=False)
    assert refused.returncode == aws.service_error_rc, str(refused)
    assert (
        "An error occurred (UnmodifiableEntity) when calling the DeleteRole operation: "
        f"Cannot perform the operation on the protected role '{name}' - this role is only "
        "modifiable by AWS"
    ) in refused.stderr

    task = aws("iam", "delete-service-linked-role", "--role-name", name).json()["DeletionTaskId"]
    assert task.startswith(f"task/aws-service-role/autoscaling.amazonaws.com/{name}/")
    status = aws(
        "iam", "get-service-linked-role-deletion-status", "--deletion-task-id", task
    ).json()
    assert status["Status"] == "SUCCEEDED"
    gone = aws("iam", "get-role", "--role-name", name, check=False)
    assert f"The role with name {name} cannot be found." in gone.stderr


def test_credential_report(aws):
    name = f"reported-{short_id()}"
    aws("iam", "create-user", "--user-name", name)
    key = aws("iam", "create-access-key", "--user-name", name).json()["AccessKey"]
    assert key["Status"] == "Active"
    first = aws("iam", "generate-credential-report").json()["State"]
    # A report made in the last four hours (by an earlier test of the same server) is answered
    # again, without the new user.
    assert first in ("STARTED", "COMPLETE")
    state = first
    while state != "COMPLETE":
        state = aws("iam", "generate-credential-report").json()["State"]
    report = aws("iam", "get-credential-report").json()
    assert report["ReportFormat"] == "text/csv"
    lines = base64.b64decode(report["Content"]).decode().split("\n")
    assert lines[0].startswith("user,arn,user_creation_time,password_enabled,")
    assert lines[0].endswith(",cert_2_active,cert_2_last_rotated")
    root = lines[1].split(",")
    assert root[:2] == ["<root_account>", ROOT_ARN]
    assert len(root) == 22
    if first == "STARTED":
        row = next(line.split(",") for line in lines if line.startswith(f"{name},"))
        assert row[1] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
        assert row[3] == "false"  # no console password
        assert row[8] == "true"  # access_key_1_active
        assert row[13] == "false"  # no second key

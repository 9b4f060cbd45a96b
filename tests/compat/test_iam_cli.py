"""The AWS CLI, unmodified, against kinko: the IAM, STS and Organizations commands an
administrator types, and Secrets Manager commands run with the credentials they hand out."""

from __future__ import annotations

import json
import time

from kinko_compat import (
    ACCOUNT,
    DEFAULT_KEY_CROSS_ACCOUNT,
    INVALID_TOKEN,
    ORG_ACCESS_ROLE,
    ROOT_ARN,
    ROOT_CREDS,
    Creds,
    allow,
    aws_as,
    cli_create_role,
    denied,
    no_identity_policy,
    policy,
    secret_arn_pattern,
    short_id,
    trust,
)

SM = "secretsmanager"


def assert_service_error(aws, result, code: str, operation: str, message: str) -> None:
    """The CLI failed with exactly this service error."""
    assert result.returncode == aws.service_error_rc, str(result)
    expected = f"An error occurred ({code}) when calling the {operation} operation: {message}"
    assert expected in result.stderr, f"expected {expected!r}\n{result}"


def create_user(aws, tmp_path, name: str, policy_doc: str | None = None) -> tuple[str, Creds]:
    """`aws iam create-user`, `put-user-policy` (from a file) and `create-access-key`."""
    user = aws("iam", "create-user", "--user-name", name).json()["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    assert user["UserId"].startswith("AIDA")
    if policy_doc is not None:
        (tmp_path / f"{name}.json").write_text(policy_doc)
        aws(
            "iam",
            "put-user-policy",
            "--user-name",
            name,
            "--policy-name",
            "inline",
            "--policy-document",
            f"file://{name}.json",
            cwd=tmp_path,
        )
    key = aws("iam", "create-access-key", "--user-name", name).json()
    assert key["AccessKey"]["Status"] == "Active"
    return user["Arn"], Creds.from_access_key(key)


def assume_role(aws, creds: Creds, role_arn: str, session: str, *extra: str) -> dict:
    return aws_as(
        aws,
        creds,
        "sts",
        "assume-role",
        "--role-arn",
        role_arn,
        "--role-session-name",
        session,
        *extra,
    ).json()


def get_text(aws, creds: Creds, secret_id: str) -> str:
    return aws_as(
        aws,
        creds,
        SM,
        "get-secret-value",
        "--secret-id",
        secret_id,
        "--query",
        "SecretString",
        "--output",
        "text",
    ).stdout


def test_cli_developer_role(aws, tmp_path):
    p = short_id()
    azure = f"{p}/dev/azure"
    conn = "DefaultEndpointsProtocol=https;AccountName=devstore;AccountKey=abc=="
    aws(SM, "create-secret", "--name", azure, "--secret-string", conn)
    aws(SM, "create-secret", "--name", f"{p}/dev/sql", "--secret-string", "x")
    role = f"dev-app-{p}"
    role_arn = cli_create_role(
        aws,
        tmp_path,
        role,
        trust(ROOT_ARN),
        policy(allow("secretsmanager:GetSecretValue", secret_arn_pattern(f"{p}/dev/azure-*"))),
    )
    role_id = aws("iam", "get-role", "--role-name", role).json()["Role"]["RoleId"]
    _, dev = create_user(aws, tmp_path, f"dev-{p}", policy(allow("sts:AssumeRole", role_arn)))

    out = assume_role(aws, dev, role_arn, "alice")
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/alice"
    assert out["AssumedRoleUser"] == {"AssumedRoleId": f"{role_id}:alice", "Arn": session_arn}
    session = Creds.from_sts(out)

    who = aws_as(aws, session, "sts", "get-caller-identity").json()
    assert who == {"UserId": f"{role_id}:alice", "Account": ACCOUNT, "Arn": session_arn}
    assert get_text(aws, session, azure) == conn + "\n"

    r = aws_as(aws, session, SM, "describe-secret", "--secret-id", azure, check=False)
    assert_service_error(
        aws,
        r,
        "AccessDeniedException",
        "DescribeSecret",
        no_identity_policy(session_arn, "secretsmanager:DescribeSecret", azure),
    )
    r = aws_as(aws, session, SM, "get-secret-value", "--secret-id", f"{p}/dev/sql", check=False)
    assert_service_error(
        aws,
        r,
        "AccessDeniedException",
        "GetSecretValue",
        no_identity_policy(session_arn, "secretsmanager:GetSecretValue", f"{p}/dev/sql"),
    )


def test_cli_read_only_user(aws, tmp_path):
    p = short_id()
    name = f"{p}/app/config"
    value = {"api_key": "k-123", "region": "eu-west-1"}
    arn = aws(SM, "create-secret", "--name", name, "--secret-string", json.dumps(value)).json()[
        "ARN"
    ]
    user_arn, app = create_user(
        aws,
        tmp_path,
        f"reader-{p}",
        policy(
            allow(
                ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                secret_arn_pattern(f"{p}/app/*"),
            )
        ),
    )
    for secret_id in (name, arn):
        assert json.loads(get_text(aws, app, secret_id)) == value
    r = aws_as(
        aws, app, SM, "put-secret-value", "--secret-id", name, "--secret-string", "{}", check=False
    )
    assert_service_error(
        aws,
        r,
        "AccessDeniedException",
        "PutSecretValue",
        no_identity_policy(user_arn, "secretsmanager:PutSecretValue", name),
    )
    r = aws_as(aws, app, SM, "list-secrets", check=False)
    assert_service_error(
        aws,
        r,
        "AccessDeniedException",
        "ListSecrets",
        no_identity_policy(user_arn, "secretsmanager:ListSecrets", None),
    )


def test_cli_root_cannot_assume_role_and_duration_is_capped(aws, tmp_path):
    p = short_id()
    role_arn = cli_create_role(aws, tmp_path, f"capped-{p}", trust(ROOT_ARN))
    r = aws(
        "sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "root", check=False
    )
    assert_service_error(
        aws, r, "AccessDenied", "AssumeRole", "Roles may not be assumed by root accounts."
    )
    _, user = create_user(aws, tmp_path, f"long-{p}", policy(allow("sts:AssumeRole", role_arn)))
    r = aws_as(
        aws,
        user,
        "sts",
        "assume-role",
        "--role-arn",
        role_arn,
        "--role-session-name",
        "long",
        "--duration-seconds",
        "7200",
        check=False,
    )
    assert_service_error(
        aws,
        r,
        "ValidationError",
        "AssumeRole",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )


def test_cli_inactive_access_key(aws, tmp_path):
    p = short_id()
    user = f"inactive-{p}"
    _, creds = create_user(aws, tmp_path, user, policy(allow("secretsmanager:ListSecrets")))
    aws_as(aws, creds, SM, "list-secrets")
    aws(
        "iam",
        "update-access-key",
        "--user-name",
        user,
        "--access-key-id",
        creds.access_key,
        "--status",
        "Inactive",
    )
    r = aws_as(aws, creds, SM, "list-secrets", check=False)
    assert_service_error(aws, r, "UnrecognizedClientException", "ListSecrets", INVALID_TOKEN)
    aws("iam", "delete-access-key", "--user-name", user, "--access-key-id", creds.access_key)
    r = aws_as(aws, creds, "sts", "get-caller-identity", check=False)
    assert_service_error(aws, r, "InvalidClientTokenId", "GetCallerIdentity", INVALID_TOKEN)


def test_cli_cross_account(aws, tmp_path):
    p = short_id()
    status = aws(
        "organizations",
        "create-account",
        "--email",
        f"member-{p}@example.com",
        "--account-name",
        f"member-{p}",
    ).json()["CreateAccountStatus"]
    deadline = time.monotonic() + 10
    while status["State"] == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = aws(
            "organizations",
            "describe-create-account-status",
            "--create-account-request-id",
            status["Id"],
        ).json()["CreateAccountStatus"]
    assert status["State"] == "SUCCEEDED", status
    member = status["AccountId"]

    _, operator = create_user(
        aws,
        tmp_path,
        f"operator-{p}",
        policy(allow("sts:AssumeRole", f"arn:aws:iam::{member}:role/*")),
    )
    admin = Creds.from_sts(
        assume_role(aws, operator, f"arn:aws:iam::{member}:role/{ORG_ACCESS_ROLE}", "admin")
    )
    assert aws_as(aws, admin, "sts", "get-caller-identity").json()["Account"] == member

    name = f"{p}/shared/db"
    secret_arn = aws(SM, "create-secret", "--name", name, "--secret-string", "mgmt").json()["ARN"]
    reader_arn = cli_create_role(
        aws,
        tmp_path,
        "reader",
        trust(ROOT_ARN),
        policy(allow("secretsmanager:*", secret_arn)),
        creds=admin,
    )
    assert reader_arn == f"arn:aws:iam::{member}:role/reader"
    out = assume_role(aws, operator, reader_arn, "job")
    reader = Creds.from_sts(out)
    session_arn = out["AssumedRoleUser"]["Arn"]

    r = aws_as(aws, reader, SM, "describe-secret", "--secret-id", secret_arn, check=False)
    assert_service_error(
        aws,
        r,
        "AccessDeniedException",
        "DescribeSecret",
        denied(
            session_arn,
            "secretsmanager:DescribeSecret",
            secret_arn,
            "because no resource-based policy allows the secretsmanager:DescribeSecret action",
        ),
    )
    (tmp_path / "resource-policy.json").write_text(
        policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": reader_arn},
                "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
                "Resource": "*",
            }
        )
    )
    aws(
        SM,
        "put-resource-policy",
        "--secret-id",
        name,
        "--resource-policy",
        "file://resource-policy.json",
        cwd=tmp_path,
    )
    described = aws_as(aws, reader, SM, "describe-secret", "--secret-id", secret_arn).json()
    assert described["ARN"] == secret_arn
    r = aws_as(aws, reader, SM, "get-secret-value", "--secret-id", secret_arn, check=False)
    assert_service_error(
        aws, r, "InvalidRequestException", "GetSecretValue", DEFAULT_KEY_CROSS_ACCOUNT
    )

    # The member account is a world of its own.
    assert aws_as(aws, admin, SM, "list-secrets").json()["SecretList"] == []
    r = aws_as(aws, admin, "iam", "get-user", "--user-name", f"operator-{p}", check=False)
    assert_service_error(
        aws, r, "NoSuchEntity", "GetUser", f"The user with name operator-{p} cannot be found."
    )


def test_cli_console_password(aws, tmp_path):
    """A console password set by an administrator, then changed by its user under the account
    password policy; the account's alias. The policy is removed again at the end (the account is
    shared with the other tests, none of which sets a password)."""
    name = f"console-{short_id()}"
    user_arn, creds = create_user(aws, tmp_path, name)
    r = aws("iam", "get-login-profile", "--user-name", name, check=False)
    assert_service_error(
        aws, r, "NoSuchEntity", "GetLoginProfile", f"Login Profile for User {name} cannot be found."
    )
    aws(
        "iam",
        "update-account-password-policy",
        "--minimum-password-length",
        "10",
        "--require-numbers",
        "--allow-users-to-change-password",
    )
    try:
        got = aws("iam", "get-account-password-policy").json()["PasswordPolicy"]
        assert got["MinimumPasswordLength"] == 10
        assert got["RequireNumbers"] and got["AllowUsersToChangePassword"]
        assert not got["ExpirePasswords"] and "MaxPasswordAge" not in got

        r = aws(
            "iam", "create-login-profile", "--user-name", name, "--password", "too-short", check=False
        )
        assert_service_error(
            aws,
            r,
            "PasswordPolicyViolation",
            "CreateLoginProfile",
            "Password should have a minimum length of 10",
        )
        profile = aws(
            "iam",
            "create-login-profile",
            "--user-name",
            name,
            "--password",
            "first-pass-1",
            "--password-reset-required",
        ).json()["LoginProfile"]
        assert profile["UserName"] == name and profile["PasswordResetRequired"] is True

        r = aws_as(
            aws,
            creds,
            "iam",
            "change-password",
            "--old-password",
            "not-the-password-1",
            "--new-password",
            "second-pass-2",
            check=False,
        )
        assert_service_error(
            aws, r, "AccessDenied", "ChangePassword", "The old password you specified is incorrect."
        )
        aws_as(
            aws,
            creds,
            "iam",
            "change-password",
            "--old-password",
            "first-pass-1",
            "--new-password",
            "second-pass-2",
        )
        got = aws("iam", "get-login-profile", "--user-name", name).json()["LoginProfile"]
        assert got["PasswordResetRequired"] is False
    finally:
        aws("iam", "delete-account-password-policy")
    r = aws("iam", "get-account-password-policy", check=False)
    assert_service_error(
        aws,
        r,
        "NoSuchEntity",
        "GetAccountPasswordPolicy",
        f"The Password Policy with domain name {ACCOUNT} cannot be found.",
    )
    r = aws("iam", "delete-user", "--user-name", name, check=False)
    assert_service_error(
        aws,
        r,
        "DeleteConflict",
        "DeleteUser",
        "Cannot delete entity, must delete login profile first.",
    )
    aws("iam", "delete-login-profile", "--user-name", name)

    alias = f"compat-{short_id()}"
    aws("iam", "create-account-alias", "--account-alias", alias)
    try:
        assert aws("iam", "list-account-aliases").json()["AccountAliases"] == [alias]
    finally:
        aws("iam", "delete-account-alias", "--account-alias", alias)
    assert aws("iam", "list-account-aliases").json()["AccountAliases"] == []

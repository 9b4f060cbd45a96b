"""The AWS CLI, unmodified, against kinko's KMS: customer managed keys as a security team types the
commands, and Secrets Manager secrets under them shared with a member account's role."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os

from kinko_compat import (
    DECRYPTION_FAILURE,
    DEFAULT_KEY_CROSS_ACCOUNT,
    KMS_DENIED,
    ORG_ACCESS_ROLE,
    ROOT_ARN,
    Creds,
    alias_arn,
    allow,
    assert_cli_error,
    aws_as,
    aws_pipeline,
    azure_connection_string,
    cli_create_role,
    denied,
    key_arn_re,
    key_root_statement,
    new_member_account_cli,
    parse_ts,
    policy,
    resource_grant,
    secret_arn_pattern,
    secret_arn_re,
    short_id,
    trust,
    utcnow,
    via_secretsmanager_grant,
)

SM = "secretsmanager"


def describe_key(aws, key_id: str) -> dict:
    return aws("kms", "describe-key", "--key-id", key_id).json()["KeyMetadata"]


def assume_role(aws, creds: Creds, role_arn: str, session: str) -> tuple[Creds, str]:
    out = aws_as(
        aws, creds, "sts", "assume-role", "--role-arn", role_arn, "--role-session-name", session
    ).json()
    return Creds.from_sts(out), out["AssumedRoleUser"]["Arn"]


def get_text(aws, creds: Creds, secret_id: str, check: bool = True):
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
        check=check,
    )


def test_cli_kms_key_basics(aws, tmp_path):
    p = short_id()
    meta = aws("kms", "create-key", "--description", f"app data key {p}").json()["KeyMetadata"]
    key_id, key_arn = meta["KeyId"], meta["Arn"]
    assert key_arn_re().match(key_arn) and key_arn.endswith(f":key/{key_id}"), meta
    assert (meta["Description"], meta["KeyState"], meta["KeyManager"]) == (
        f"app data key {p}",
        "Enabled",
        "CUSTOMER",
    )
    alias = f"alias/app-data-{p}"
    aws("kms", "create-alias", "--alias-name", alias, "--target-key-id", key_id)
    by_alias = describe_key(aws, alias)
    assert (by_alias["KeyId"], by_alias["Arn"], by_alias["Enabled"]) == (key_id, key_arn, True)
    aliases = aws("kms", "list-aliases", "--key-id", key_id).json()["Aliases"]
    assert [(a["AliasName"], a["AliasArn"], a["TargetKeyId"]) for a in aliases] == [
        (alias, alias_arn(alias), key_id)
    ]

    # Encrypt a binary file and decrypt it back, as the KMS documentation shows.
    plaintext = os.urandom(200) + b"\x00\xff end"
    (tmp_path / "secret.bin").write_bytes(plaintext)
    aws_pipeline(
        aws,
        f"""
aws --endpoint-url "$ENDPOINT" kms encrypt --key-id {alias} --plaintext fileb://secret.bin \\
    --encryption-context purpose=backup,team=security \\
    --query CiphertextBlob --output text | base64 --decode > secret.enc
aws --endpoint-url "$ENDPOINT" kms decrypt --ciphertext-blob fileb://secret.enc \\
    --encryption-context purpose=backup,team=security \\
    --query Plaintext --output text | base64 --decode > secret.out
""",
        tmp_path,
    )
    assert (tmp_path / "secret.out").read_bytes() == plaintext
    assert (tmp_path / "secret.enc").read_bytes() != plaintext
    r = aws(
        "kms",
        "decrypt",
        "--ciphertext-blob",
        "fileb://secret.enc",
        "--encryption-context",
        "purpose=backup,team=other",
        check=False,
        cwd=tmp_path,
    )
    assert_cli_error(aws, r, "InvalidCiphertextException", "Decrypt", "")

    data_key = aws("kms", "generate-data-key", "--key-id", alias, "--key-spec", "AES_256").json()
    assert data_key["KeyId"] == key_arn
    plain_key = base64.b64decode(data_key["Plaintext"])
    assert len(plain_key) == 32
    (tmp_path / "data-key.enc").write_bytes(base64.b64decode(data_key["CiphertextBlob"]))
    opened = aws(
        "kms",
        "decrypt",
        "--ciphertext-blob",
        "fileb://data-key.enc",
        "--query",
        "Plaintext",
        "--output",
        "text",
        cwd=tmp_path,
    ).stdout
    assert base64.b64decode(opened) == plain_key

    # Scheduled for deletion, then cancelled: the key comes back disabled.
    scheduled = aws(
        "kms", "schedule-key-deletion", "--key-id", key_id, "--pending-window-in-days", "7"
    ).json()
    assert (scheduled["KeyId"], scheduled["KeyState"], scheduled["PendingWindowInDays"]) == (
        key_arn,
        "PendingDeletion",
        7,
    )
    pending = describe_key(aws, alias)
    assert (pending["KeyState"], pending["Enabled"]) == ("PendingDeletion", False)
    deletion = parse_ts(pending["DeletionDate"])
    assert deletion == parse_ts(scheduled["DeletionDate"])
    assert abs(deletion - (utcnow() + dt.timedelta(days=7))) < dt.timedelta(minutes=5)
    r = aws("kms", "encrypt", "--key-id", alias, "--plaintext", "x", check=False)
    assert_cli_error(
        aws, r, "KMSInvalidStateException", "Encrypt", f"{key_arn} is pending deletion."
    )
    assert aws("kms", "cancel-key-deletion", "--key-id", key_id).json() == {"KeyId": key_arn}
    cancelled = describe_key(aws, key_id)
    assert (cancelled["KeyState"], cancelled["Enabled"]) == ("Disabled", False)
    assert "DeletionDate" not in cancelled


def test_cli_security_team_shares_a_secret_with_a_member_account(aws, tmp_path):
    p = short_id()
    # The management account's customer managed key and its alias.
    meta = aws(
        "kms", "create-key", "--description", "Secrets shared with member accounts"
    ).json()["KeyMetadata"]
    key_id, key_arn = meta["KeyId"], meta["Arn"]
    alias = f"alias/shared-secrets-{p}"
    aws("kms", "create-alias", "--alias-name", alias, "--target-key-id", key_id)

    # The secret, encrypted under the key by its alias.
    name = f"{p}/shared/azure-storage"
    conn = azure_connection_string(f"prod{p}")
    created = aws(
        SM, "create-secret", "--name", name, "--kms-key-id", alias, "--secret-string", conn
    ).json()
    secret_arn = created["ARN"]
    assert secret_arn_re(name).match(secret_arn), created

    # A member account; its administrator creates the roles through OrganizationAccountAccessRole.
    member = new_member_account_cli(aws)
    (tmp_path / "operator.json").write_text(
        policy(allow("sts:AssumeRole", f"arn:aws:iam::{member}:role/*"))
    )
    operator_name = f"operator-{p}"
    aws("iam", "create-user", "--user-name", operator_name)
    aws(
        "iam",
        "put-user-policy",
        "--user-name",
        operator_name,
        "--policy-name",
        "assume-member-roles",
        "--policy-document",
        "file://operator.json",
        cwd=tmp_path,
    )
    operator = Creds.from_access_key(
        aws("iam", "create-access-key", "--user-name", operator_name).json()
    )
    admin, _ = assume_role(
        aws, operator, f"arn:aws:iam::{member}:role/{ORG_ACCESS_ROLE}", "admin"
    )
    reader_policy = policy(
        allow("secretsmanager:GetSecretValue", secret_arn_pattern(f"{p}/shared/*")),
        allow("kms:Decrypt", key_arn),
    )
    reader = cli_create_role(
        aws, tmp_path, "azure-reader", trust(ROOT_ARN), reader_policy, creds=admin
    )
    assert reader == f"arn:aws:iam::{member}:role/azure-reader"
    # The same identity policy, but the key policy won't name this one.
    outsider = cli_create_role(
        aws, tmp_path, "not-in-key-policy", trust(ROOT_ARN), reader_policy, creds=admin
    )

    # The key policy: the management account's IAM decides for its own principals; the member's
    # reader may decrypt only through Secrets Manager.
    (tmp_path / "key-policy.json").write_text(
        policy(key_root_statement(), via_secretsmanager_grant([reader]))
    )
    aws(
        "kms",
        "put-key-policy",
        "--key-id",
        key_id,
        "--policy-name",
        "default",
        "--policy",
        "file://key-policy.json",
        cwd=tmp_path,
    )
    (tmp_path / "resource-policy.json").write_text(resource_grant([reader, outsider]))
    aws(
        SM,
        "put-resource-policy",
        "--secret-id",
        name,
        "--resource-policy",
        "file://resource-policy.json",
        cwd=tmp_path,
    )

    app, session_arn = assume_role(aws, operator, reader, "app")
    assert get_text(aws, app, secret_arn).stdout == conn + "\n"
    doc = {"connectionString": conn, "container": "invoices"}
    aws(SM, "put-secret-value", "--secret-id", name, "--secret-string", json.dumps(doc))
    assert json.loads(get_text(aws, app, secret_arn).stdout) == doc

    # The reader can't use the key directly: the key policy's grant is for Secrets Manager only.
    aws_pipeline(
        aws,
        f"""
aws --endpoint-url "$ENDPOINT" kms encrypt --key-id {alias} --plaintext fileb://operator.json \\
    --query CiphertextBlob --output text | base64 --decode > direct.enc
""",
        tmp_path,
    )
    r = aws_as(
        aws,
        app,
        "kms",
        "decrypt",
        "--ciphertext-blob",
        "fileb://direct.enc",
        "--key-id",
        key_arn,
        check=False,
        cwd=tmp_path,
    )
    assert_cli_error(
        aws,
        r,
        "AccessDeniedException",
        "Decrypt",
        denied(
            session_arn,
            "kms:Decrypt",
            key_arn,
            "because no resource-based policy allows the kms:Decrypt action",
        ),
    )

    # A role of the member the key policy doesn't name can't read the secret.
    others, _ = assume_role(aws, operator, outsider, "outsider")
    assert_cli_error(
        aws,
        get_text(aws, others, secret_arn, check=False),
        "AccessDeniedException",
        "GetSecretValue",
        KMS_DENIED,
    )

    # Disabled, the key protects the secret from everyone.
    aws("kms", "disable-key", "--key-id", key_id)
    assert_cli_error(
        aws,
        get_text(aws, app, secret_arn, check=False),
        "DecryptionFailure",
        "GetSecretValue",
        DECRYPTION_FAILURE,
    )

    # Shared the same way under the AWS managed key aws/secretsmanager: not readable across
    # accounts.
    default_arn = aws(
        SM, "create-secret", "--name", f"{p}/shared/default-key", "--secret-string", conn
    ).json()["ARN"]
    aws(
        SM,
        "put-resource-policy",
        "--secret-id",
        default_arn,
        "--resource-policy",
        "file://resource-policy.json",
        cwd=tmp_path,
    )
    assert_cli_error(
        aws,
        get_text(aws, app, default_arn, check=False),
        "InvalidRequestException",
        "GetSecretValue",
        DEFAULT_KEY_CROSS_ACCOUNT,
    )

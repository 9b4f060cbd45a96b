"""The AWS CLI, unmodified, against kinko: the commands a user would type."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import string

import pytest

from kinko_compat import (
    INVALID_NAME,
    MARKED_FOR_DELETION,
    NOT_FOUND,
    parse_ts,
    secret_arn_re,
    unique,
    utcnow,
)

AZURE_CONN = (
    "DefaultEndpointsProtocol=https;AccountName=devstore;"
    "AccountKey=abc==;EndpointSuffix=core.windows.net"
)

SM = "secretsmanager"


def create(aws, name: str, *extra: str, cwd=None) -> dict:
    return aws(SM, "create-secret", "--name", name, *extra, cwd=cwd).json()


def get_text(aws, secret_id: str, *extra: str) -> str:
    return aws(
        SM,
        "get-secret-value",
        "--secret-id",
        secret_id,
        *extra,
        "--query",
        "SecretString",
        "--output",
        "text",
    ).stdout


def describe(aws, secret_id: str) -> dict:
    return aws(SM, "describe-secret", "--secret-id", secret_id).json()


def assert_service_error(aws, result, code: str, message: str | None = None) -> None:
    assert result.returncode == aws.service_error_rc, str(result)
    assert f"An error occurred ({code})" in result.stderr, str(result)
    if message is not None:
        assert message in result.stderr, str(result)


# ---------------------------------------------------------------------------
# Create and read
# ---------------------------------------------------------------------------


def test_create_secret_string_and_get_text(aws):
    name = unique("dev/azure")
    out = create(aws, name, "--secret-string", AZURE_CONN)
    assert out["Name"] == name
    assert secret_arn_re(name).match(out["ARN"]), out["ARN"]
    assert out["VersionId"]

    assert get_text(aws, name) == AZURE_CONN + "\n"


def test_create_secret_string_from_json_file(aws, tmp_path):
    name = unique("dev/db")
    creds = {"username": "app", "password": "s3cr3t!;=", "host": "db.internal", "port": 5432}
    content = json.dumps(creds, indent=2) + "\n"
    (tmp_path / "cred.json").write_text(content)

    create(aws, name, "--secret-string", "file://cred.json", cwd=tmp_path)

    got = aws(SM, "get-secret-value", "--secret-id", name).json()
    assert got["SecretString"] == content
    assert json.loads(get_text(aws, name)) == creds


def test_get_secret_value_by_full_arn(aws):
    name = unique("dev/azure")
    arn = create(aws, name, "--secret-string", AZURE_CONN)["ARN"]

    got = aws(SM, "get-secret-value", "--secret-id", arn).json()
    assert got["ARN"] == arn
    assert got["Name"] == name
    assert got["SecretString"] == AZURE_CONN
    assert got["VersionStages"] == ["AWSCURRENT"]
    assert get_text(aws, arn) == AZURE_CONN + "\n"


def test_secret_binary_round_trip(aws, tmp_path):
    name = unique("dev/blob")
    blob = bytes(range(256)) + os.urandom(64) + b"\x00\xff\n\r"
    (tmp_path / "blob.bin").write_bytes(blob)

    create(aws, name, "--secret-binary", "fileb://blob.bin", cwd=tmp_path)

    out = aws(
        SM,
        "get-secret-value",
        "--secret-id",
        name,
        "--query",
        "SecretBinary",
        "--output",
        "text",
    ).stdout.strip()
    assert base64.b64decode(out, validate=True) == blob

    full = aws(SM, "get-secret-value", "--secret-id", name).json()
    assert "SecretString" not in full
    assert base64.b64decode(full["SecretBinary"]) == blob


def test_put_secret_value_and_read_previous(aws):
    name = unique("dev/rotate")
    v1 = create(aws, name, "--secret-string", "first")["VersionId"]

    put = aws(SM, "put-secret-value", "--secret-id", name, "--secret-string", "second").json()
    assert put["Name"] == name
    assert put["VersionStages"] == ["AWSCURRENT"]
    v2 = put["VersionId"]
    assert v2 != v1

    assert get_text(aws, name) == "second\n"
    assert get_text(aws, name, "--version-stage", "AWSPREVIOUS") == "first\n"
    assert get_text(aws, name, "--version-id", v1) == "first\n"

    prev = aws(SM, "get-secret-value", "--secret-id", name, "--version-stage", "AWSPREVIOUS").json()
    assert prev["VersionId"] == v1
    assert prev["VersionStages"] == ["AWSPREVIOUS"]


# ---------------------------------------------------------------------------
# Metadata
# ---------------------------------------------------------------------------


def test_describe_secret_fields(aws):
    name = unique("dev/describe")
    before = utcnow() - dt.timedelta(seconds=5)
    created = create(
        aws,
        name,
        "--secret-string",
        AZURE_CONN,
        "--description",
        "Azure storage for dev",
        "--tags",
        "Key=env,Value=dev",
        "Key=team,Value=core",
    )

    d = describe(aws, name)
    assert d["ARN"] == created["ARN"]
    assert secret_arn_re(name).match(d["ARN"]), d["ARN"]
    assert d["Name"] == name
    assert d["Description"] == "Azure storage for dev"
    assert d["VersionIdsToStages"] == {created["VersionId"]: ["AWSCURRENT"]}
    assert d["Tags"] == [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "core"}]
    after = utcnow() + dt.timedelta(seconds=5)
    assert before <= parse_ts(d["CreatedDate"]) <= after
    assert before <= parse_ts(d["LastChangedDate"]) <= after
    for absent in ("DeletedDate", "LastAccessedDate", "KmsKeyId", "RotationEnabled"):
        assert absent not in d, d


def test_list_secrets_name_filter(aws):
    prefix = unique("cli-list") + "/"
    names = sorted(prefix + n for n in ("alpha", "beta", "gamma"))
    for n in names:
        create(aws, n, "--secret-string", "v")
    create(aws, unique("cli-list-other"), "--secret-string", "v")

    out = aws(SM, "list-secrets", "--filters", f"Key=name,Values={prefix}").json()
    got = sorted(e["Name"] for e in out["SecretList"])
    assert got == names
    for entry in out["SecretList"]:
        assert secret_arn_re(entry["Name"]).match(entry["ARN"])
        assert list(entry["SecretVersionsToStages"].values()) == [["AWSCURRENT"]]
        assert "VersionIdsToStages" not in entry


def test_tag_and_untag_resource(aws):
    name = unique("dev/tags")
    create(aws, name, "--secret-string", "v")
    assert "Tags" not in describe(aws, name)

    r = aws(
        SM,
        "tag-resource",
        "--secret-id",
        name,
        "--tags",
        "Key=env,Value=dev",
        "Key=owner,Value=platform",
    )
    assert r.stdout.strip() == ""
    assert describe(aws, name)["Tags"] == [
        {"Key": "env", "Value": "dev"},
        {"Key": "owner", "Value": "platform"},
    ]

    aws(SM, "untag-resource", "--secret-id", name, "--tag-keys", "env")
    assert describe(aws, name)["Tags"] == [{"Key": "owner", "Value": "platform"}]

    aws(SM, "untag-resource", "--secret-id", name, "--tag-keys", "owner")
    assert describe(aws, name)["Tags"] == []


def test_update_secret_description(aws):
    name = unique("dev/update")
    create(aws, name, "--secret-string", "v", "--description", "old")

    out = aws(SM, "update-secret", "--secret-id", name, "--description", "new text").json()
    assert out["Name"] == name
    assert secret_arn_re(name).match(out["ARN"])
    assert "VersionId" not in out  # metadata-only update creates no version

    assert describe(aws, name)["Description"] == "new text"
    assert get_text(aws, name) == "v\n"


def test_list_secret_version_ids(aws):
    name = unique("dev/versions")
    v1 = create(aws, name, "--secret-string", "one")["VersionId"]
    v2 = aws(SM, "put-secret-value", "--secret-id", name, "--secret-string", "two").json()[
        "VersionId"
    ]

    out = aws(SM, "list-secret-version-ids", "--secret-id", name).json()
    assert out["Name"] == name
    assert secret_arn_re(name).match(out["ARN"])
    stages = {v["VersionId"]: v["VersionStages"] for v in out["Versions"]}
    assert stages == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}
    for v in out["Versions"]:
        assert v["KmsKeyIds"] == ["DefaultEncryptionKey"]
        parse_ts(v["CreatedDate"])


def test_delete_restore_then_force_delete(aws):
    name = unique("dev/azure")
    arn = create(aws, name, "--secret-string", AZURE_CONN)["ARN"]

    out = aws(SM, "delete-secret", "--secret-id", name, "--recovery-window-in-days", "7").json()
    assert out["ARN"] == arn
    assert out["Name"] == name
    expected = utcnow() + dt.timedelta(days=7)
    assert abs(parse_ts(out["DeletionDate"]) - expected) < dt.timedelta(minutes=2)

    r = aws(SM, "get-secret-value", "--secret-id", name, check=False)
    assert_service_error(aws, r, "InvalidRequestException", MARKED_FOR_DELETION)
    assert "marked for deletion" in r.stderr

    assert "DeletedDate" in describe(aws, name)

    restored = aws(SM, "restore-secret", "--secret-id", name).json()
    assert restored == {"ARN": arn, "Name": name}
    assert "DeletedDate" not in describe(aws, name)
    assert get_text(aws, name) == AZURE_CONN + "\n"

    forced = aws(SM, "delete-secret", "--secret-id", name, "--force-delete-without-recovery").json()
    assert forced["Name"] == name
    assert forced["ARN"] == arn
    assert abs(parse_ts(forced["DeletionDate"]) - utcnow()) < dt.timedelta(minutes=2)

    r = aws(SM, "get-secret-value", "--secret-id", name, check=False)
    assert_service_error(aws, r, "ResourceNotFoundException", NOT_FOUND)


def test_get_random_password(aws):
    out = aws(
        SM,
        "get-random-password",
        "--password-length",
        "20",
        "--exclude-punctuation",
        "--query",
        "RandomPassword",
        "--output",
        "text",
    ).stdout
    assert out.endswith("\n")
    pw = out[:-1]
    assert len(pw) == 20
    allowed = set(string.ascii_letters + string.digits)
    assert set(pw) <= allowed, pw


def test_resource_policy_put_get_delete(aws, tmp_path):
    name = unique("dev/policy")
    arn = create(aws, name, "--secret-string", "v")["ARN"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ],
    }
    (tmp_path / "policy.json").write_text(json.dumps(policy))

    put = aws(
        SM,
        "put-resource-policy",
        "--secret-id",
        name,
        "--resource-policy",
        "file://policy.json",
        cwd=tmp_path,
    ).json()
    assert put == {"ARN": arn, "Name": name}

    got = aws(SM, "get-resource-policy", "--secret-id", name).json()
    assert got["ARN"] == arn and got["Name"] == name
    assert json.loads(got["ResourcePolicy"]) == policy

    deleted = aws(SM, "delete-resource-policy", "--secret-id", name).json()
    assert deleted == {"ARN": arn, "Name": name}
    assert "ResourcePolicy" not in aws(SM, "get-resource-policy", "--secret-id", name).json()


def test_replicate_describe_and_stop_replication(aws):
    name = unique("dev/replicated")
    out = create(
        aws,
        name,
        "--secret-string",
        "primary-value",
        "--add-replica-regions",
        "Region=eu-west-1",
    )
    assert [(r["Region"], r["Status"]) for r in out["ReplicationStatus"]] == [("eu-west-1", "InSync")]
    assert get_text(aws, name, "--region", "eu-west-1").strip() == "primary-value"
    replica = aws(SM, "describe-secret", "--secret-id", name, "--region", "eu-west-1").json()
    assert replica["PrimaryRegion"] == "us-east-1"
    assert secret_arn_re(name, region="eu-west-1").match(replica["ARN"])

    aws(SM, "put-secret-value", "--secret-id", name, "--secret-string", "second")
    assert get_text(aws, name, "--region", "eu-west-1").strip() == "second"
    r = aws(
        SM,
        "put-secret-value",
        "--secret-id",
        name,
        "--secret-string",
        "x",
        "--region",
        "eu-west-1",
        check=False,
    )
    assert_service_error(
        aws,
        r,
        "InvalidParameterException",
        "Operation not permitted on a replica secret. Call must be made in primary secret's region.",
    )

    aws(SM, "stop-replication-to-replica", "--secret-id", name, "--region", "eu-west-1")
    standalone = aws(SM, "describe-secret", "--secret-id", name, "--region", "eu-west-1").json()
    assert "PrimaryRegion" not in standalone
    assert "ReplicationStatus" not in describe(aws, name)


def test_replicate_to_regions_and_remove(aws):
    name = unique("dev/replicate-later")
    create(aws, name, "--secret-string", "v")
    out = aws(
        SM,
        "replicate-secret-to-regions",
        "--secret-id",
        name,
        "--add-replica-regions",
        "Region=ap-south-1",
    ).json()
    assert out["ReplicationStatus"][0]["KmsKeyId"] == "alias/aws/secretsmanager"
    out = aws(
        SM, "remove-regions-from-replication", "--secret-id", name, "--remove-replica-regions", "ap-south-1"
    ).json()
    assert out["ReplicationStatus"] == []
    r = aws(SM, "describe-secret", "--secret-id", name, "--region", "ap-south-1", check=False)
    assert_service_error(aws, r, "ResourceNotFoundException", NOT_FOUND)


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def test_get_missing_secret(aws):
    r = aws(SM, "get-secret-value", "--secret-id", unique("dev/missing"), check=False)
    assert_service_error(aws, r, "ResourceNotFoundException", NOT_FOUND)
    assert r.stdout == ""


def test_wrong_secret_key_is_invalid_signature(aws):
    r = aws(SM, "list-secrets", check=False, secret_key="not-the-right-key")
    assert_service_error(aws, r, "InvalidSignatureException")
    assert (
        "The request signature we calculated does not match the signature you provided." in r.stderr
    )


def test_unknown_access_key_is_unrecognized_client(aws):
    r = aws(SM, "list-secrets", check=False, access_key="AKIAUNKNOWNUNKNOWN00")
    assert_service_error(
        aws,
        r,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )


@pytest.mark.parametrize("bad", ["bad name", "bad*name"])
def test_invalid_name_rejected(aws, bad):
    r = aws(SM, "create-secret", "--name", bad, "--secret-string", "v", check=False)
    assert_service_error(aws, r, "ValidationException")
    assert INVALID_NAME in r.stderr

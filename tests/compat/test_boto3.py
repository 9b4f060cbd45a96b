"""boto3 against kinko: exact response members and exact AWS errors.

Messages recorded from real AWS are asserted verbatim; where only emulator
wording is known, only the error code is asserted.
"""

from __future__ import annotations

import datetime as dt
import json
import string
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError

from kinko_compat import (
    INVALID_NAME,
    MARKED_FOR_DELETION,
    NOT_FOUND,
    secret_arn_re,
    unique,
    utcnow,
)

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
BOTH_VALUES_MESSAGES = {
    "The request had invalid params: You can\u2019t specify both a binary secret value "
    "and a string secret value in the same secret.",
    "The request had invalid params: You can't specify both a binary secret value "
    "and a string secret value in the same secret.",
}
POLICY = {
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


def body(resp: dict) -> dict:
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


def token() -> str:
    return str(uuid.uuid4())


def call_error(fn, **kwargs) -> dict:
    """Calls fn expecting a service error; returns the parsed error response."""
    with pytest.raises(ClientError) as info:
        fn(**kwargs)
    return info.value.response


def assert_error(resp: dict, code: str, message: str | None = None, status: int = 400) -> None:
    err = resp["Error"]
    assert err["Code"] == code, resp
    if message is not None:
        assert err["Message"] == message, resp
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == status, resp


def new_secret(sm, prefix: str = "b3", **kwargs) -> tuple[str, dict]:
    name = unique(prefix)
    if not {"SecretString", "SecretBinary", "NoValue"} & kwargs.keys():
        kwargs["SecretString"] = "value-" + name
    kwargs.pop("NoValue", None)
    return name, sm.create_secret(Name=name, **kwargs)


def stages_of(sm, secret_id: str, include_deprecated: bool = False) -> dict[str, list[str] | None]:
    """VersionId -> sorted labels (None when the member is absent), from ListSecretVersionIds."""
    out = sm.list_secret_version_ids(SecretId=secret_id, IncludeDeprecated=include_deprecated)
    return {
        v["VersionId"]: (sorted(v["VersionStages"]) if "VersionStages" in v else None)
        for v in out["Versions"]
    }


def describe_stages(sm, secret_id: str) -> dict[str, list[str]]:
    d = sm.describe_secret(SecretId=secret_id)
    return {k: sorted(v) for k, v in d.get("VersionIdsToStages", {}).items()}


def today_midnight_utc() -> dt.datetime:
    now = utcnow()
    return dt.datetime(now.year, now.month, now.day, tzinfo=dt.timezone.utc)


# ---------------------------------------------------------------------------
# Basics
# ---------------------------------------------------------------------------


def test_health(endpoint):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(endpoint + "/health", timeout=10) as resp:
        assert resp.status == 200


def test_secret_string_round_trip(sm):
    name, tok = unique("b3/str"), token()
    before = utcnow() - dt.timedelta(seconds=5)
    created = sm.create_secret(Name=name, SecretString="hunter2", ClientRequestToken=tok)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert created["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid")
    assert set(body(created)) == {"ARN", "Name", "VersionId"}
    assert created["Name"] == name
    assert created["VersionId"] == tok
    assert secret_arn_re(name).match(created["ARN"]), created["ARN"]

    got = sm.get_secret_value(SecretId=name)
    assert set(body(got)) == {
        "ARN",
        "Name",
        "VersionId",
        "SecretString",
        "VersionStages",
        "CreatedDate",
    }
    assert got["ARN"] == created["ARN"]
    assert got["Name"] == name
    assert got["VersionId"] == tok
    assert got["SecretString"] == "hunter2"
    assert got["VersionStages"] == ["AWSCURRENT"]
    assert before <= got["CreatedDate"] <= utcnow() + dt.timedelta(seconds=5)


def test_secret_binary_round_trip(sm):
    blob = bytes(range(256)) * 3 + b"\x00\x00\xff"
    name, created = new_secret(sm, "b3/bin", SecretBinary=blob)
    got = sm.get_secret_value(SecretId=name)
    assert set(body(got)) == {
        "ARN",
        "Name",
        "VersionId",
        "SecretBinary",
        "VersionStages",
        "CreatedDate",
    }
    assert got["SecretBinary"] == blob
    assert got["VersionId"] == created["VersionId"]


def test_json_secret_read_back(sm):
    doc = {"username": "admin", "password": "p@ss;w=rd\"'", "port": 5432, "nested": {"a": [1, 2]}}
    name, _ = new_secret(sm, "b3/json", SecretString=json.dumps(doc))
    assert json.loads(sm.get_secret_value(SecretId=name)["SecretString"]) == doc


def test_unicode_secret_string(sm):
    value = "p\u00e4ssw\u00f6rd \u2713 \u65e5\u672c \U0001f511"
    name, _ = new_secret(sm, "b3/utf8", SecretString=value)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == value


def test_create_without_value(sm):
    name, created = new_secret(sm, "b3/empty", NoValue=True, Description="placeholder")
    assert set(body(created)) == {"ARN", "Name"}

    d = sm.describe_secret(SecretId=name)
    assert "VersionIdsToStages" not in d
    assert sm.list_secret_version_ids(SecretId=name)["Versions"] == []

    assert_error(
        call_error(sm.get_secret_value, SecretId=name),
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
    )

    put = sm.put_secret_value(SecretId=name, SecretString="now set", VersionStages=["AWSPENDING"])
    # The first version of a secret always becomes current.
    assert "AWSCURRENT" in put["VersionStages"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "now set"


def test_get_secret_value_selection_errors(sm):
    name, created = new_secret(sm, "b3/sel")
    v1 = created["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="two")["VersionId"]

    missing = token()
    assert_error(
        call_error(sm.get_secret_value, SecretId=name, VersionId=missing),
        "ResourceNotFoundException",
        f"Secrets Manager can't find the specified secret value for VersionId: {missing}",
    )
    assert_error(
        call_error(sm.get_secret_value, SecretId=name, VersionStage="NOSUCHSTAGE"),
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: NOSUCHSTAGE",
    )
    assert_error(
        call_error(sm.get_secret_value, SecretId=name, VersionId=v1, VersionStage="AWSCURRENT"),
        "InvalidRequestException",
        "You provided a VersionStage that is not associated to the provided VersionId.",
    )
    both = sm.get_secret_value(SecretId=name, VersionId=v2, VersionStage="AWSCURRENT")
    assert both["SecretString"] == "two"
    prev = sm.get_secret_value(SecretId=name, VersionId=v1)
    assert prev["VersionStages"] == ["AWSPREVIOUS"]


def test_describe_secret_exact_members(sm):
    name, created = new_secret(sm, "b3/desc", Description="")
    d = sm.describe_secret(SecretId=name)
    # An empty description given at create is not returned; nothing unset is returned.
    assert set(body(d)) == {"ARN", "Name", "LastChangedDate", "CreatedDate", "VersionIdsToStages"}
    assert d["VersionIdsToStages"] == {created["VersionId"]: ["AWSCURRENT"]}

    before = d["LastChangedDate"]
    upd = sm.update_secret(SecretId=name, Description="MyDescription")
    assert set(body(upd)) == {"ARN", "Name"}
    d = sm.describe_secret(SecretId=name)
    assert set(body(d)) == {
        "ARN",
        "Name",
        "Description",
        "LastChangedDate",
        "CreatedDate",
        "VersionIdsToStages",
    }
    assert d["Description"] == "MyDescription"
    assert d["LastChangedDate"] >= before
    assert d["CreatedDate"] <= d["LastChangedDate"]


def test_valid_name_characters(sm):
    name = unique("Valid/_+=.@-Name")
    created = sm.create_secret(Name=name, SecretString="v")
    assert secret_arn_re(name).match(created["ARN"]), created["ARN"]
    assert sm.get_secret_value(SecretId=name)["Name"] == name


def test_names_are_case_sensitive(sm):
    name, _ = new_secret(sm, "b3/CaseSensitive")
    assert_error(
        call_error(sm.get_secret_value, SecretId=name.lower()),
        "ResourceNotFoundException",
        NOT_FOUND,
    )


# ---------------------------------------------------------------------------
# Versions and staging labels (§5)
# ---------------------------------------------------------------------------


def test_versions_create_put_put(sm):
    name, created = new_secret(sm, "b3/ver")
    v1 = created["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="v2")["VersionId"]
    v3 = sm.put_secret_value(SecretId=name, SecretString="v3")["VersionId"]

    assert stages_of(sm, name) == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    assert describe_stages(sm, name) == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}

    with_deprecated = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert [v["VersionId"] for v in with_deprecated] == [v1, v2, v3]  # oldest first
    deprecated = with_deprecated[0]
    assert "VersionStages" not in deprecated

    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
    assert len(listed) == 1
    assert {k: sorted(v) for k, v in listed[0]["SecretVersionsToStages"].items()} == {
        v2: ["AWSPREVIOUS"],
        v3: ["AWSCURRENT"],
    }


def test_versions_pending_and_stage_moves(sm):
    name, created = new_secret(sm, "b3/pending")
    v1 = created["VersionId"]

    put2 = sm.put_secret_value(SecretId=name, SecretString="v2", VersionStages=["AWSPENDING"])
    v2 = put2["VersionId"]
    assert put2["VersionStages"] == ["AWSPENDING"]
    assert stages_of(sm, name) == {v1: ["AWSCURRENT"], v2: ["AWSPENDING"]}
    assert sm.get_secret_value(SecretId=name)["VersionId"] == v1

    moved = sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", RemoveFromVersionId=v1, MoveToVersionId=v2
    )
    assert set(body(moved)) == {"ARN", "Name"}
    assert moved["Name"] == name
    assert stages_of(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT", "AWSPENDING"]}

    v3 = sm.put_secret_value(SecretId=name, SecretString="v3", VersionStages=["AWSPENDING"])[
        "VersionId"
    ]
    assert stages_of(sm, name) == {
        v1: ["AWSPREVIOUS"],
        v2: ["AWSCURRENT"],
        v3: ["AWSPENDING"],
    }

    sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", RemoveFromVersionId=v2, MoveToVersionId=v3
    )
    assert stages_of(sm, name) == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT", "AWSPENDING"]}
    assert stages_of(sm, name, include_deprecated=True)[v1] is None
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v3"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v2"


def test_update_stage_requires_remove_from_version(sm):
    name, created = new_secret(sm, "b3/stage")
    v1 = created["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="v2", VersionStages=["AWSPENDING"])[
        "VersionId"
    ]
    assert_error(
        call_error(
            sm.update_secret_version_stage,
            SecretId=name,
            VersionStage="AWSCURRENT",
            MoveToVersionId=v2,
        ),
        "InvalidParameterException",
        "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently "
        f"attached to version {v1}, so you must explicitly reference that version in "
        "RemoveFromVersionId.",
    )
    assert stages_of(sm, name) == {v1: ["AWSCURRENT"], v2: ["AWSPENDING"]}


def test_update_stage_remove_only_deprecates(sm):
    name, created = new_secret(sm, "b3/stage-rm")
    v1 = created["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="v2", VersionStages=["AWSPENDING"])[
        "VersionId"
    ]
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=v2)
    assert stages_of(sm, name) == {v1: ["AWSCURRENT"]}
    assert stages_of(sm, name, include_deprecated=True) == {v1: ["AWSCURRENT"], v2: None}


@pytest.mark.parametrize(
    "third, v2_after",
    [
        (["one", "two", "three", "four"], None),
        (["one", "two", "four"], ["three"]),
    ],
)
def test_custom_labels_move_between_versions(sm, third, v2_after):
    name, created = new_secret(sm, "b3/labels")
    v1 = created["VersionId"]
    v2 = sm.put_secret_value(
        SecretId=name, SecretString="v2", VersionStages=["one", "two", "three"]
    )["VersionId"]
    v3 = sm.put_secret_value(SecretId=name, SecretString="v3", VersionStages=third)["VersionId"]

    expected = {v1: ["AWSCURRENT"], v3: sorted(third)}
    if v2_after is not None:
        expected[v2] = v2_after
    assert stages_of(sm, name) == expected
    assert sm.get_secret_value(SecretId=name)["VersionId"] == v1


def test_custom_labels_ride_along_with_current(sm):
    name, created = new_secret(sm, "b3/ride")
    v1 = created["VersionId"]
    v2 = sm.put_secret_value(
        SecretId=name, SecretString="v2", VersionStages=["AWSPENDING", "AWSSOMETHING", "PUT1"]
    )["VersionId"]
    sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", RemoveFromVersionId=v1, MoveToVersionId=v2
    )
    assert stages_of(sm, name) == {
        v1: ["AWSPREVIOUS"],
        v2: ["AWSCURRENT", "AWSPENDING", "AWSSOMETHING", "PUT1"],
    }


def test_update_secret_with_value_moves_current(sm):
    name, created = new_secret(sm, "b3/upd")
    v1 = created["VersionId"]
    upd = sm.update_secret(SecretId=name, SecretString="new")
    assert set(body(upd)) == {"ARN", "Name", "VersionId"}
    v2 = upd["VersionId"]
    assert stages_of(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}

    # The same value with a new token still makes a new version.
    v3 = sm.update_secret(SecretId=name, SecretString="new")["VersionId"]
    assert v3 not in (v1, v2)
    assert stages_of(sm, name) == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}


# ---------------------------------------------------------------------------
# ClientRequestToken idempotency
# ---------------------------------------------------------------------------


def test_put_secret_value_idempotency(sm):
    name, created = new_secret(sm, "b3/idem-put")
    arn = created["ARN"]
    tok = token()
    first = sm.put_secret_value(SecretId=name, SecretString="A", ClientRequestToken=tok)
    assert set(body(first)) == {"ARN", "Name", "VersionId", "VersionStages"}
    assert first["VersionId"] == tok
    assert first["VersionStages"] == ["AWSCURRENT"]

    again = sm.put_secret_value(SecretId=name, SecretString="A", ClientRequestToken=tok)
    assert again["VersionId"] == tok
    assert again["VersionStages"] == ["AWSCURRENT"]
    assert len(sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]) == 2

    assert_error(
        call_error(sm.put_secret_value, SecretId=name, SecretString="B", ClientRequestToken=tok),
        "ResourceExistsException",
        f"You can't use ClientRequestToken {tok} because that value is already in use for a "
        f"version of secret {arn}.",
    )
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "A"


def test_create_secret_idempotency(sm):
    name, tok = unique("b3/idem-create"), token()
    first = sm.create_secret(Name=name, SecretString="A", ClientRequestToken=tok)
    again = sm.create_secret(Name=name, SecretString="A", ClientRequestToken=tok)
    assert body(again) == body(first)

    assert_error(
        call_error(sm.create_secret, Name=name, SecretString="B", ClientRequestToken=tok),
        "ResourceExistsException",
        f"You can't use ClientRequestToken {tok} because that value is already in use for a "
        f"version of secret {first['ARN']}.",
    )
    assert_error(
        call_error(sm.create_secret, Name=name, SecretString="A"),
        "ResourceExistsException",
        f"The operation failed because the secret {name} already exists.",
    )
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "A"


def test_update_secret_idempotency(sm):
    name, created = new_secret(sm, "b3/idem-upd")
    tok = token()
    assert (
        sm.update_secret(SecretId=name, SecretString="A", ClientRequestToken=tok)["VersionId"]
        == tok
    )
    assert (
        sm.update_secret(SecretId=name, SecretString="A", ClientRequestToken=tok)["VersionId"]
        == tok
    )
    assert_error(
        call_error(sm.update_secret, SecretId=name, SecretString="B", ClientRequestToken=tok),
        "ResourceExistsException",
        f"You can't use ClientRequestToken {tok} because that value is already in use for a "
        f"version of secret {created['ARN']}.",
    )


def test_create_existing_name(sm):
    name, _ = new_secret(sm, "b3/dup")
    assert_error(
        call_error(sm.create_secret, Name=name, SecretString="other"),
        "ResourceExistsException",
        f"The operation failed because the secret {name} already exists.",
    )


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def test_create_with_string_and_binary(sm):
    name = unique("b3/both")
    resp = call_error(sm.create_secret, Name=name, SecretString="s", SecretBinary=b"b")
    assert_error(resp, "InvalidParameterException")
    assert resp["Error"]["Message"] in BOTH_VALUES_MESSAGES, resp["Error"]["Message"]
    assert_error(
        call_error(sm.describe_secret, SecretId=name), "ResourceNotFoundException", NOT_FOUND
    )


def test_put_with_string_and_binary(sm):
    name, _ = new_secret(sm, "b3/both-put")
    resp = call_error(sm.put_secret_value, SecretId=name, SecretString="s", SecretBinary=b"b")
    assert_error(resp, "InvalidParameterException")
    assert resp["Error"]["Message"] in BOTH_VALUES_MESSAGES, resp["Error"]["Message"]


def test_put_without_value(sm):
    name, _ = new_secret(sm, "b3/none-put")
    assert_error(call_error(sm.put_secret_value, SecretId=name), "InvalidRequestException")


BAD_NAMES = ["bad name", "bad*name", "bad?name", "bad]name", "bad\\name"]

INVALID_NAME_CALLS = {
    "CreateSecret": lambda sm, n: sm.create_secret(Name=n, SecretString="v"),
    "GetSecretValue": lambda sm, n: sm.get_secret_value(SecretId=n),
    "DescribeSecret": lambda sm, n: sm.describe_secret(SecretId=n),
    "DeleteSecret": lambda sm, n: sm.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True),
    "PutSecretValue": lambda sm, n: sm.put_secret_value(SecretId=n, SecretString="v"),
    "UpdateSecret": lambda sm, n: sm.update_secret(SecretId=n, Description="d"),
    "TagResource": lambda sm, n: sm.tag_resource(SecretId=n, Tags=[{"Key": "k", "Value": "v"}]),
    "UntagResource": lambda sm, n: sm.untag_resource(SecretId=n, TagKeys=["k"]),
    "ListSecretVersionIds": lambda sm, n: sm.list_secret_version_ids(SecretId=n),
    "ValidateResourcePolicy": lambda sm, n: sm.validate_resource_policy(
        SecretId=n, ResourcePolicy=json.dumps(POLICY)
    ),
}


@pytest.mark.parametrize("operation", sorted(INVALID_NAME_CALLS))
@pytest.mark.parametrize(
    "bad", BAD_NAMES, ids=["space", "star", "question", "bracket", "backslash"]
)
def test_invalid_name(sm, operation, bad):
    resp = call_error(lambda: INVALID_NAME_CALLS[operation](sm, bad))
    assert_error(resp, "ValidationException", INVALID_NAME)


def test_oversized_secret_string(sm):
    name = unique("b3/big")
    resp = call_error(sm.create_secret, Name=name, SecretString="x" * 65537)
    assert_error(resp, "ValidationException")
    assert_error(
        call_error(sm.describe_secret, SecretId=name), "ResourceNotFoundException", NOT_FOUND
    )

    exact = sm.create_secret(Name=name, SecretString="y" * 65536)
    assert len(sm.get_secret_value(SecretId=exact["ARN"])["SecretString"]) == 65536


def test_oversized_secret_binary(sm):
    name = unique("b3/bigbin")
    assert_error(
        call_error(sm.create_secret, Name=name, SecretBinary=b"\x01" * 65537), "ValidationException"
    )
    assert_error(
        call_error(sm.describe_secret, SecretId=name), "ResourceNotFoundException", NOT_FOUND
    )


def test_oversized_put_stores_nothing(sm):
    name, created = new_secret(sm, "b3/bigput")
    assert_error(
        call_error(sm.put_secret_value, SecretId=name, SecretString="z" * 65537),
        "ValidationException",
    )
    assert stages_of(sm, name, include_deprecated=True) == {created["VersionId"]: ["AWSCURRENT"]}


# ---------------------------------------------------------------------------
# ListSecrets
# ---------------------------------------------------------------------------


def test_list_secrets_paginator_over_many(sm):
    prefix = unique("b3-page") + "/"
    names = {f"{prefix}{i:03d}" for i in range(105)}
    for n in names:
        sm.create_secret(Name=n, SecretString="v")

    seen: list[str] = []
    pages = 0
    paginator = sm.get_paginator("list_secrets")
    for page in paginator.paginate(
        Filters=[{"Key": "name", "Values": [prefix]}], PaginationConfig={"PageSize": 10}
    ):
        pages += 1
        assert len(page["SecretList"]) <= 10
        seen.extend(e["Name"] for e in page["SecretList"])
        assert pages < 200, "pagination does not terminate"
    assert len(seen) == len(set(seen)) == 105
    assert set(seen) == names
    assert pages >= 11


def test_list_secrets_sort_by_name(sm):
    prefix = unique("b3-sort") + "/"
    order = ["delta", "alpha", "echo", "charlie", "bravo"]
    for n in order:
        sm.create_secret(Name=prefix + n, SecretString="v")
    flt = [{"Key": "name", "Values": [prefix]}]

    asc = sm.list_secrets(Filters=flt, SortBy="name", SortOrder="asc")["SecretList"]
    assert [e["Name"] for e in asc] == [prefix + n for n in sorted(order)]
    desc = sm.list_secrets(Filters=flt, SortBy="name", SortOrder="desc")["SecretList"]
    assert [e["Name"] for e in desc] == [prefix + n for n in sorted(order, reverse=True)]


def test_list_secrets_include_planned_deletion(sm):
    prefix = unique("b3-planned") + "/"
    sm.create_secret(Name=prefix + "keep", SecretString="v")
    sm.create_secret(Name=prefix + "gone", SecretString="v")
    sm.delete_secret(SecretId=prefix + "gone", RecoveryWindowInDays=7)
    flt = [{"Key": "name", "Values": [prefix]}]

    default = sm.list_secrets(Filters=flt)["SecretList"]
    assert [e["Name"] for e in default] == [prefix + "keep"]

    everything = sm.list_secrets(Filters=flt, IncludePlannedDeletion=True)["SecretList"]
    by_name = {e["Name"]: e for e in everything}
    assert set(by_name) == {prefix + "keep", prefix + "gone"}
    assert "DeletedDate" in by_name[prefix + "gone"]
    assert "DeletedDate" not in by_name[prefix + "keep"]


def test_list_secrets_name_filters(sm):
    base = unique("b3-flt")
    for suffix in ("/one", "/two", "/Three"):
        sm.create_secret(Name=base + suffix, SecretString="v")

    def names(filters):
        return sorted(e["Name"] for e in sm.list_secrets(Filters=filters)["SecretList"])

    assert names([{"Key": "name", "Values": [base + "/t"]}]) == [base + "/two"]
    assert names([{"Key": "name", "Values": [base + "/T"]}]) == [base + "/Three"]
    assert names([{"Key": "name", "Values": [base + "/o", base + "/t"]}]) == [
        base + "/one",
        base + "/two",
    ]
    assert names(
        [
            {"Key": "name", "Values": [base]},
            {"Key": "name", "Values": ["!" + base + "/o"]},
        ]
    ) == [base + "/Three", base + "/two"]
    assert names([{"Key": "name", "Values": [base + " one"]}]) == []


def test_list_secrets_description_filter(sm):
    base = unique("b3-dfl")
    descriptions = {"a": "a secret", "an": "an secret", "as": "asecret", "the": "thesecret"}
    for key, desc in descriptions.items():
        sm.create_secret(Name=f"{base}/{key}", SecretString="v", Description=desc)

    def names(value):
        out = sm.list_secrets(
            Filters=[
                {"Key": "name", "Values": [base]},
                {"Key": "description", "Values": [value]},
            ]
        )["SecretList"]
        return sorted(e["Name"].rsplit("/", 1)[1] for e in out)

    assert names("a") == ["a", "an", "as"]
    assert names("A") == ["a", "an", "as"]
    assert names("a secret") == ["a", "an"]


def test_list_secrets_tag_filters(sm):
    base = unique("b3-tfl")
    key = unique("team")
    sm.create_secret(
        Name=base + "/tagged", SecretString="v", Tags=[{"Key": key, "Value": "core-platform"}]
    )
    sm.create_secret(
        Name=base + "/other", SecretString="v", Tags=[{"Key": "unrelated", "Value": "x"}]
    )

    out = sm.list_secrets(Filters=[{"Key": "tag-key", "Values": [key]}])["SecretList"]
    assert [e["Name"] for e in out] == [base + "/tagged"]
    assert out[0]["Tags"] == [{"Key": key, "Value": "core-platform"}]

    out = sm.list_secrets(
        Filters=[
            {"Key": "name", "Values": [base]},
            {"Key": "tag-value", "Values": ["core-"]},
        ]
    )["SecretList"]
    assert [e["Name"] for e in out] == [base + "/tagged"]


def test_list_secrets_validation(sm):
    assert_error(call_error(sm.list_secrets, MaxResults=101), "ValidationException")
    assert_error(
        call_error(sm.list_secrets, Filters=[{"Key": "not-a-key", "Values": ["x"]}]),
        "ValidationException",
    )


# ---------------------------------------------------------------------------
# BatchGetSecretValue
# ---------------------------------------------------------------------------


def test_batch_get_secret_value_with_missing_id(sm):
    n1, c1 = new_secret(sm, "b3/batch", SecretString="one")
    n2, c2 = new_secret(sm, "b3/batch", SecretString="two")
    missing = unique("b3/batch-missing")

    out = sm.batch_get_secret_value(SecretIdList=[n1, missing, c2["ARN"]])
    values = {v["Name"]: v for v in out["SecretValues"]}
    assert set(values) == {n1, n2}
    for v in out["SecretValues"]:
        assert set(v) == {
            "ARN",
            "Name",
            "VersionId",
            "SecretString",
            "VersionStages",
            "CreatedDate",
        }
        assert v["VersionStages"] == ["AWSCURRENT"]
    assert values[n1]["SecretString"] == "one"
    assert values[n1]["ARN"] == c1["ARN"]
    assert values[n2]["SecretString"] == "two"
    assert values[n2]["VersionId"] == c2["VersionId"]

    assert len(out["Errors"]) == 1
    error = out["Errors"][0]
    assert error["SecretId"] == missing
    assert error["ErrorCode"] == "ResourceNotFoundException"


def test_batch_get_secret_value_reports_deleted_secret(sm):
    live, _ = new_secret(sm, "b3/batch-live")
    doomed, _ = new_secret(sm, "b3/batch-doomed")
    sm.delete_secret(SecretId=doomed, RecoveryWindowInDays=7)
    out = sm.batch_get_secret_value(SecretIdList=[live, doomed])
    assert [v["Name"] for v in out["SecretValues"]] == [live]
    assert [(e["SecretId"], e["ErrorCode"]) for e in out["Errors"]] == [
        (doomed, "InvalidRequestException")
    ]


def test_batch_get_secret_value_with_filters(sm):
    prefix = unique("b3-bf") + "/"
    for i in range(3):
        sm.create_secret(Name=f"{prefix}{i}", SecretString=f"value-{i}")
    got = {}
    kwargs = {"Filters": [{"Key": "name", "Values": [prefix]}], "MaxResults": 2}
    for _ in range(20):
        page = sm.batch_get_secret_value(**kwargs)
        assert len(page["SecretValues"]) <= 2
        for v in page["SecretValues"]:
            assert v["Name"] not in got
            got[v["Name"]] = v["SecretString"]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    else:
        pytest.fail("BatchGetSecretValue pagination does not terminate")
    assert got == {f"{prefix}{i}": f"value-{i}" for i in range(3)}


def test_batch_get_secret_value_parameter_errors(sm):
    name, _ = new_secret(sm, "b3/batch-bad")
    assert_error(call_error(sm.batch_get_secret_value), "InvalidParameterException")
    assert_error(
        call_error(
            sm.batch_get_secret_value,
            SecretIdList=[name],
            Filters=[{"Key": "name", "Values": [name]}],
        ),
        "InvalidParameterException",
    )
    assert_error(
        call_error(sm.batch_get_secret_value, SecretIdList=[name], MaxResults=5),
        "InvalidParameterException",
    )


# ---------------------------------------------------------------------------
# Deletion and recovery (§6)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("days", [6, 31])
def test_delete_recovery_window_out_of_bounds(sm, days):
    name, _ = new_secret(sm, "b3/window")
    assert_error(
        call_error(sm.delete_secret, SecretId=name, RecoveryWindowInDays=days),
        "InvalidParameterException",
    )
    assert "DeletedDate" not in sm.describe_secret(SecretId=name)


@pytest.mark.parametrize("days", [7, 30])
def test_delete_recovery_window_in_bounds(sm, days):
    name, created = new_secret(sm, "b3/window")
    out = sm.delete_secret(SecretId=name, RecoveryWindowInDays=days)
    assert set(body(out)) == {"ARN", "Name", "DeletionDate"}
    assert out["ARN"] == created["ARN"]
    expected = utcnow() + dt.timedelta(days=days)
    assert abs(out["DeletionDate"] - expected) < dt.timedelta(minutes=2)


def test_delete_default_window_is_30_days(sm):
    name, _ = new_secret(sm, "b3/window-default")
    out = sm.delete_secret(SecretId=name)
    assert abs(out["DeletionDate"] - (utcnow() + dt.timedelta(days=30))) < dt.timedelta(minutes=2)


def test_delete_force_with_window_conflicts(sm):
    name, _ = new_secret(sm, "b3/force-window")
    assert_error(
        call_error(
            sm.delete_secret, SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True
        ),
        "InvalidParameterException",
    )
    assert sm.get_secret_value(SecretId=name)["Name"] == name
    # An explicit false together with a window is fine.
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=False)
    assert "DeletedDate" in sm.describe_secret(SecretId=name)


def test_marked_for_deletion_behaviour(sm):
    name, created = new_secret(sm, "b3/marked")
    arn = created["ARN"]
    v1 = created["VersionId"]
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)

    d = sm.describe_secret(SecretId=name)
    assert isinstance(d["DeletedDate"], dt.datetime)

    blocked = [
        (sm.get_secret_value, {"SecretId": name}),
        (sm.put_secret_value, {"SecretId": name, "SecretString": "x"}),
        (sm.update_secret, {"SecretId": name, "SecretString": "x"}),
        (sm.tag_resource, {"SecretId": name, "Tags": [{"Key": "k", "Value": "v"}]}),
        (sm.untag_resource, {"SecretId": name, "TagKeys": ["k"]}),
        (
            sm.update_secret_version_stage,
            {"SecretId": name, "VersionStage": "CUSTOM", "MoveToVersionId": v1},
        ),
    ]
    for fn, kwargs in blocked:
        assert_error(call_error(fn, **kwargs), "InvalidRequestException", MARKED_FOR_DELETION)

    assert_error(
        call_error(sm.create_secret, Name=name, SecretString="again"),
        "InvalidRequestException",
        "You can't create this secret because a secret with this name is already scheduled "
        "for deletion.",
    )

    restored = sm.restore_secret(SecretId=name)
    assert body(restored) == {"ARN": arn, "Name": name}
    assert "DeletedDate" not in sm.describe_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["VersionId"] == v1


def test_force_delete(sm):
    name, created = new_secret(sm, "b3/force")
    out = sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert set(body(out)) == {"ARN", "Name", "DeletionDate"}
    assert out["ARN"] == created["ARN"] and out["Name"] == name
    assert abs(out["DeletionDate"] - utcnow()) < dt.timedelta(minutes=2)

    for fn in (sm.get_secret_value, sm.describe_secret):
        assert_error(call_error(fn, SecretId=name), "ResourceNotFoundException", NOT_FOUND)
    assert_error(
        call_error(sm.get_secret_value, SecretId=created["ARN"]),
        "ResourceNotFoundException",
        NOT_FOUND,
    )

    # The name is free again and the new secret gets a new ARN suffix.
    again = sm.create_secret(Name=name, SecretString="second life")
    assert again["ARN"] != created["ARN"]
    assert secret_arn_re(name).match(again["ARN"])


def test_force_delete_of_scheduled_secret(sm):
    name, _ = new_secret(sm, "b3/force-scheduled")
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert_error(
        call_error(sm.describe_secret, SecretId=name), "ResourceNotFoundException", NOT_FOUND
    )


def test_force_delete_missing_secret_succeeds(sm):
    name = unique("b3/never-existed")
    out = sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert out["Name"] == name
    assert "ARN" in out and "DeletionDate" in out


def test_delete_missing_secret_without_force(sm):
    assert_error(
        call_error(sm.delete_secret, SecretId=unique("b3/missing")),
        "ResourceNotFoundException",
        NOT_FOUND,
    )


# ---------------------------------------------------------------------------
# Not found, for every operation taking a SecretId
# ---------------------------------------------------------------------------

NOT_FOUND_CALLS = {
    "GetSecretValue": lambda sm, n: sm.get_secret_value(SecretId=n),
    "DescribeSecret": lambda sm, n: sm.describe_secret(SecretId=n),
    "PutSecretValue": lambda sm, n: sm.put_secret_value(SecretId=n, SecretString="v"),
    "UpdateSecret": lambda sm, n: sm.update_secret(SecretId=n, Description="d"),
    "ListSecretVersionIds": lambda sm, n: sm.list_secret_version_ids(SecretId=n),
    "TagResource": lambda sm, n: sm.tag_resource(SecretId=n, Tags=[{"Key": "k", "Value": "v"}]),
    "UntagResource": lambda sm, n: sm.untag_resource(SecretId=n, TagKeys=["k"]),
    "RestoreSecret": lambda sm, n: sm.restore_secret(SecretId=n),
    "UpdateSecretVersionStage": lambda sm, n: sm.update_secret_version_stage(
        SecretId=n, VersionStage="AWSCURRENT", MoveToVersionId=str(uuid.uuid4())
    ),
    "GetResourcePolicy": lambda sm, n: sm.get_resource_policy(SecretId=n),
    "PutResourcePolicy": lambda sm, n: sm.put_resource_policy(
        SecretId=n, ResourcePolicy=json.dumps(POLICY)
    ),
    "DeleteResourcePolicy": lambda sm, n: sm.delete_resource_policy(SecretId=n),
}


@pytest.mark.parametrize("operation", sorted(NOT_FOUND_CALLS))
def test_not_found(sm, operation):
    resp = call_error(lambda: NOT_FOUND_CALLS[operation](sm, unique("b3/absent")))
    assert_error(resp, "ResourceNotFoundException", NOT_FOUND)


# ---------------------------------------------------------------------------
# ARNs
# ---------------------------------------------------------------------------


def test_partial_arn_lookup(sm):
    name, created = new_secret(sm, "b3/partial", SecretString="by partial arn")
    arn = created["ARN"]
    partial = arn[: -len("-XXXXXX")]
    assert partial.endswith(":secret:" + name)

    got = sm.get_secret_value(SecretId=partial)
    assert got["ARN"] == arn
    assert got["Name"] == name
    assert got["SecretString"] == "by partial arn"
    assert sm.describe_secret(SecretId=partial)["ARN"] == arn


def test_full_arn_must_match_exactly(sm):
    name, created = new_secret(sm, "b3/arn")
    arn = created["ARN"]
    wrong_suffix = "ZZZZZZ" if not arn.endswith("ZZZZZZ") else "YYYYYY"
    assert_error(
        call_error(sm.get_secret_value, SecretId=arn[:-6] + wrong_suffix),
        "ResourceNotFoundException",
        NOT_FOUND,
    )


def test_name_that_looks_like_arn_suffix(sm):
    # A name ending in -XXXXXX makes the partial ARN look like a full ARN.
    name = unique("b3/suffix") + "-a1b2c3"
    created = sm.create_secret(Name=name, SecretString="v")
    partial = created["ARN"][: -len("-XXXXXX")]
    assert_error(
        call_error(sm.get_secret_value, SecretId=partial), "ResourceNotFoundException", NOT_FOUND
    )
    assert sm.get_secret_value(SecretId=created["ARN"])["Name"] == name
    assert sm.get_secret_value(SecretId=name)["Name"] == name


# ---------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------


def test_last_accessed_date_after_read(sm):
    name, created = new_secret(sm, "b3/accessed")
    assert "LastAccessedDate" not in sm.describe_secret(SecretId=name)
    before = today_midnight_utc()
    sm.get_secret_value(SecretId=name)
    after = today_midnight_utc()

    accessed = sm.describe_secret(SecretId=name)["LastAccessedDate"]
    assert accessed in (before, after), accessed
    assert (accessed.hour, accessed.minute, accessed.second, accessed.microsecond) == (0, 0, 0, 0)

    versions = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert versions[0]["LastAccessedDate"] in (before, after)


# ---------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------


def test_tags(sm):
    name, _ = new_secret(
        sm, "b3/tags", Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    )
    assert sm.describe_secret(SecretId=name)["Tags"] == [
        {"Key": "a", "Value": "1"},
        {"Key": "b", "Value": "2"},
    ]

    out = sm.tag_resource(
        SecretId=name, Tags=[{"Key": "a", "Value": "changed"}, {"Key": "c", "Value": ""}]
    )
    assert body(out) == {}
    assert sm.describe_secret(SecretId=name)["Tags"] == [
        {"Key": "a", "Value": "changed"},
        {"Key": "b", "Value": "2"},
        {"Key": "c", "Value": ""},
    ]

    assert body(sm.untag_resource(SecretId=name, TagKeys=["b", "does-not-exist"])) == {}
    assert sm.describe_secret(SecretId=name)["Tags"] == [
        {"Key": "a", "Value": "changed"},
        {"Key": "c", "Value": ""},
    ]
    sm.untag_resource(SecretId=name, TagKeys=["a", "c"])
    assert sm.describe_secret(SecretId=name)["Tags"] == []


def test_never_tagged_has_no_tags_member(sm):
    name, _ = new_secret(sm, "b3/untagged")
    assert "Tags" not in sm.describe_secret(SecretId=name)


# ---------------------------------------------------------------------------
# Resource policies
# ---------------------------------------------------------------------------


def test_resource_policy_lifecycle(sm):
    name, created = new_secret(sm, "b3/policy")
    arn = created["ARN"]
    assert body(sm.get_resource_policy(SecretId=name)) == {"ARN": arn, "Name": name}

    put = sm.put_resource_policy(SecretId=name, ResourcePolicy=json.dumps(POLICY))
    assert body(put) == {"ARN": arn, "Name": name}
    got = sm.get_resource_policy(SecretId=name)
    assert set(body(got)) == {"ARN", "Name", "ResourcePolicy"}
    assert json.loads(got["ResourcePolicy"]) == POLICY

    assert body(sm.delete_resource_policy(SecretId=name)) == {"ARN": arn, "Name": name}
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)


def test_resource_policy_malformed(sm):
    name, _ = new_secret(sm, "b3/policy-bad")
    assert_error(
        call_error(sm.put_resource_policy, SecretId=name, ResourcePolicy="{not json"),
        "MalformedPolicyDocumentException",
    )


def test_resource_policy_public(sm):
    name, _ = new_secret(sm, "b3/policy-public")
    public = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ],
    }
    assert_error(
        call_error(
            sm.put_resource_policy,
            SecretId=name,
            ResourcePolicy=json.dumps(public),
            BlockPublicPolicy=True,
        ),
        "PublicPolicyException",
    )
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)
    sm.put_resource_policy(
        SecretId=name, ResourcePolicy=json.dumps(public), BlockPublicPolicy=False
    )
    assert json.loads(sm.get_resource_policy(SecretId=name)["ResourcePolicy"]) == public


def test_validate_resource_policy(sm):
    name, _ = new_secret(sm, "b3/validate")
    out = sm.validate_resource_policy(SecretId=name, ResourcePolicy=json.dumps(POLICY))
    assert out["PolicyValidationPassed"] is True
    assert out.get("ValidationErrors", []) == []

    without_secret = sm.validate_resource_policy(ResourcePolicy=json.dumps(POLICY))
    assert without_secret["PolicyValidationPassed"] is True


# ---------------------------------------------------------------------------
# GetRandomPassword
# ---------------------------------------------------------------------------


def test_get_random_password_defaults(sm):
    seen = set()
    for _ in range(10):
        out = sm.get_random_password()
        assert set(body(out)) == {"RandomPassword"}
        pw = out["RandomPassword"]
        assert len(pw) == 32
        assert any(c in string.ascii_uppercase for c in pw), pw
        assert any(c in string.ascii_lowercase for c in pw), pw
        assert any(c in string.digits for c in pw), pw
        assert any(c in PUNCTUATION for c in pw), pw
        assert set(pw) <= set(string.ascii_letters + string.digits + PUNCTUATION), pw
        seen.add(pw)
    assert len(seen) == 10


def test_get_random_password_options(sm):
    excluded = "xyzDje@?!."
    pw = sm.get_random_password(PasswordLength=120, ExcludeCharacters=excluded)["RandomPassword"]
    assert len(pw) == 120
    assert not set(pw) & set(excluded)

    only_punct = sm.get_random_password(
        PasswordLength=50, ExcludeNumbers=True, ExcludeUppercase=True, ExcludeLowercase=True
    )["RandomPassword"]
    assert len(only_punct) == 50 and set(only_punct) <= set(PUNCTUATION)

    letters = sm.get_random_password(
        PasswordLength=40, ExcludePunctuation=True, ExcludeNumbers=True
    )["RandomPassword"]
    assert set(letters) <= set(string.ascii_letters)
    assert any(c.isupper() for c in letters) and any(c.islower() for c in letters)

    assert len(sm.get_random_password(PasswordLength=4096)["RandomPassword"]) == 4096


def test_get_random_password_too_short(sm):
    assert_error(call_error(sm.get_random_password, PasswordLength=3), "InvalidParameterException")


# ---------------------------------------------------------------------------
# Credentials
# ---------------------------------------------------------------------------


def test_wrong_secret_key(client_factory):
    bad = client_factory(secret_key="definitely-wrong")
    resp = call_error(bad.list_secrets)
    assert_error(resp, "InvalidSignatureException")
    assert resp["Error"]["Message"].startswith(
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details."
    )


def test_unknown_access_key(client_factory):
    bad = client_factory(access_key="AKIAIOSFODNN7EXAMPLE")
    assert_error(
        call_error(bad.list_secrets),
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )

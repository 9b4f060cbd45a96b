"""CloudTrail's LookupEvents over kinko's audit trail, through the AWS CLI and boto3: who read
this secret, with pages and a time range."""

from __future__ import annotations

import datetime as dt
import json

from kinko_compat import ACCOUNT, Creds, aws_as, policy, allow, unique, utcnow


def reader(iam, name: str) -> tuple[str, Creds]:
    """An IAM user allowed to read secrets, and its access key."""
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(
        UserName=name,
        PolicyName="read",
        PolicyDocument=policy(allow(["secretsmanager:GetSecretValue"])),
    )
    return arn, Creds.from_access_key(iam.create_access_key(UserName=name))


def lookup(aws, arn: str, *extra: str) -> dict:
    return aws(
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        f"AttributeKey=ResourceName,AttributeValue={arn}",
        *extra,
    ).json()


def test_cli_answers_who_read_this_secret(aws, iam):
    name = unique("trail-who")
    user_arn, creds = reader(iam, unique("trail-reader"))
    arn = aws("secretsmanager", "create-secret", "--name", name, "--secret-string", "s3cr3t-trail").json()["ARN"]
    before = utcnow() - dt.timedelta(seconds=1)
    for _ in range(2):
        aws_as(aws, creds, "secretsmanager", "get-secret-value", "--secret-id", arn)

    out = lookup(aws, arn)
    events = out["Events"]
    assert [e["EventName"] for e in events] == ["GetSecretValue", "GetSecretValue", "CreateSecret"]
    read = events[0]
    assert read["Username"] == user_arn.rsplit("/", 1)[1]
    assert read["AccessKeyId"] == creds.access_key
    assert read["ReadOnly"] == "true"
    assert {"ResourceType": "AWS::SecretsManager::Secret", "ResourceName": arn} in read["Resources"]
    record = json.loads(read["CloudTrailEvent"])
    assert record["eventName"] == "GetSecretValue"
    assert record["userIdentity"]["arn"] == user_arn
    assert record["userIdentity"]["accountId"] == ACCOUNT
    assert record["requestParameters"]["secretId"] == arn
    assert "s3cr3t-trail" not in read["CloudTrailEvent"]

    # Pages of one: the CLI follows NextToken with --starting-token.
    first = lookup(aws, arn, "--max-items", "1")
    assert [e["EventId"] for e in first["Events"]] == [events[0]["EventId"]]
    token = first["NextToken"]
    rest = lookup(aws, arn, "--max-items", "5", "--starting-token", token)
    assert [e["EventId"] for e in rest["Events"]] == [e["EventId"] for e in events[1:]]
    assert "NextToken" not in rest

    # A time range: the reads are in the last minute, nothing is in the hour before it.
    now = utcnow() + dt.timedelta(seconds=1)
    recent = lookup(aws, arn, "--start-time", before.isoformat(), "--end-time", now.isoformat())
    assert [e["EventName"] for e in recent["Events"]][:2] == ["GetSecretValue", "GetSecretValue"]
    earlier = lookup(
        aws,
        arn,
        "--start-time",
        (before - dt.timedelta(hours=1)).isoformat(),
        "--end-time",
        (before - dt.timedelta(minutes=30)).isoformat(),
    )
    assert earlier["Events"] == []


def test_boto3_paginator_walks_every_event_once(boto, iam):
    name = unique("trail-pages")
    _, creds = reader(iam, unique("trail-pager"))
    sm = boto("secretsmanager")
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    user_sm = boto("secretsmanager", creds)
    for _ in range(4):
        user_sm.get_secret_value(SecretId=arn)

    pages = boto("cloudtrail").get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}],
        PaginationConfig={"PageSize": 2},
    )
    sizes = []
    ids = []
    for page in pages:
        sizes.append(len(page["Events"]))
        ids += [e["EventId"] for e in page["Events"]]
    assert sizes == [2, 2, 1]
    assert len(set(ids)) == len(ids) == 5
    names = [json.loads(e["CloudTrailEvent"])["eventName"] for e in boto("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}]
    )["Events"]]
    assert names == ["GetSecretValue"] * 4 + ["CreateSecret"]

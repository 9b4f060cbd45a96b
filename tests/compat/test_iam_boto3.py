"""boto3 against kinko: IAM users and roles, STS credentials, Organizations accounts, and
who may do what with Secrets Manager, with AWS's exact AccessDenied messages."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from kinko_compat import (
    ACCOUNT,
    DEFAULT_KEY_CROSS_ACCOUNT,
    INVALID_TOKEN,
    UNUSABLE_SESSION_TOKEN,
    ORG_ACCESS_ROLE,
    ROOT_ARN,
    Creds,
    allow,
    denied,
    deny,
    no_identity_policy,
    policy,
    secret_arn_pattern,
    short_id,
    trust,
)

ACCESS_DENIED = "AccessDeniedException"


def error_of(fn, **kwargs) -> tuple[str, str]:
    """Calls fn expecting a service error; returns (code, message)."""
    with pytest.raises(ClientError) as info:
        fn(**kwargs)
    err = info.value.response["Error"]
    return err["Code"], err["Message"]


def new_user(iam, name: str, *statements: dict) -> tuple[str, Creds]:
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=policy(*statements))
    return arn, Creds.from_access_key(iam.create_access_key(UserName=name))


def new_role(iam, name: str, trust_doc: str, *statements: dict) -> str:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_doc)["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=policy(*statements))
    return arn


def assume(boto, creds: Creds, role_arn: str, session: str, **kw) -> tuple[Creds, str]:
    out = boto("sts", creds).assume_role(RoleArn=role_arn, RoleSessionName=session, **kw)
    return Creds.from_sts(out), out["AssumedRoleUser"]["Arn"]


# ---------------------------------------------------------------------------
# A developer role scoped to dev/azure-*
# ---------------------------------------------------------------------------


def test_developer_role_reads_only_its_secret(boto, iam, sm):
    p = short_id()
    azure = f"{p}/dev/azure"
    sm.create_secret(Name=azure, SecretString="conn-string")
    sm.create_secret(Name=f"{p}/prod/azure", SecretString="prod")
    role = f"dev-app-{p}"
    role_arn = new_role(
        iam,
        role,
        trust(ROOT_ARN),
        allow("secretsmanager:GetSecretValue", secret_arn_pattern(f"{p}/dev/azure-??????")),
    )
    got = iam.get_role(RoleName=role)["Role"]
    assert got["Arn"] == role_arn == f"arn:aws:iam::{ACCOUNT}:role/{role}"
    assert got["RoleId"].startswith("AROA")
    assert got["AssumeRolePolicyDocument"] == json.loads(trust(ROOT_ARN))
    _, user = new_user(iam, f"dev-{p}", allow("sts:AssumeRole", role_arn))

    out = boto("sts", user).assume_role(RoleArn=role_arn, RoleSessionName="laptop")
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/laptop"
    assert out["AssumedRoleUser"] == {
        "Arn": session_arn,
        "AssumedRoleId": f"{got['RoleId']}:laptop",
    }
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
    session = Creds.from_sts(out)

    who = boto("sts", session).get_caller_identity()
    assert (who["Arn"], who["UserId"], who["Account"]) == (
        session_arn,
        f"{got['RoleId']}:laptop",
        ACCOUNT,
    )

    app = boto("secretsmanager", session)
    assert app.get_secret_value(SecretId=azure)["SecretString"] == "conn-string"
    assert error_of(app.describe_secret, SecretId=azure) == (
        ACCESS_DENIED,
        no_identity_policy(session_arn, "secretsmanager:DescribeSecret", azure),
    )
    assert error_of(app.get_secret_value, SecretId=f"{p}/prod/azure") == (
        ACCESS_DENIED,
        no_identity_policy(session_arn, "secretsmanager:GetSecretValue", f"{p}/prod/azure"),
    )
    assert error_of(app.list_secrets) == (
        ACCESS_DENIED,
        no_identity_policy(session_arn, "secretsmanager:ListSecrets", None),
    )


def test_assume_role_without_identity_policy_is_denied(boto, iam):
    p = short_id()
    role_arn = new_role(iam, f"acct-trust-{p}", trust(ROOT_ARN))
    user_arn, user = new_user(iam, f"cannot-assume-{p}")
    assert error_of(boto("sts", user).assume_role, RoleArn=role_arn, RoleSessionName="s1") == (
        "AccessDenied",
        no_identity_policy(user_arn, "sts:AssumeRole", role_arn),
    )


# ---------------------------------------------------------------------------
# An application user with read-only access
# ---------------------------------------------------------------------------


def test_read_only_user_reads_json_by_name_and_arn(boto, iam, sm):
    p = short_id()
    name = f"{p}/app/db"
    value = {"username": "app", "password": "pa$$", "port": 5432}
    arn = sm.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
    policy_arn = iam.create_policy(
        PolicyName=f"read-{p}",
        PolicyDocument=policy(
            allow(
                ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                secret_arn_pattern(f"{p}/app/*"),
            )
        ),
    )["Policy"]["Arn"]
    assert policy_arn == f"arn:aws:iam::{ACCOUNT}:policy/read-{p}"
    user_arn, creds = new_user(iam, f"app-{p}")
    iam.attach_user_policy(UserName=f"app-{p}", PolicyArn=policy_arn)
    app = boto("secretsmanager", creds)
    for secret_id in (name, arn):
        assert json.loads(app.get_secret_value(SecretId=secret_id)["SecretString"]) == value
    assert error_of(app.put_secret_value, SecretId=name, SecretString="{}") == (
        ACCESS_DENIED,
        no_identity_policy(user_arn, "secretsmanager:PutSecretValue", name),
    )
    assert error_of(app.list_secrets) == (
        ACCESS_DENIED,
        no_identity_policy(user_arn, "secretsmanager:ListSecrets", None),
    )


def test_two_workloads_two_roles(boto, iam, sm):
    p = short_id()
    name = f"{p}/MySecret"
    arn = sm.create_secret(Name=name, SecretString="a-only")["ARN"]
    _, user = new_user(
        iam, f"workloads-{p}", allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/wl-*-{p}")
    )
    a_arn = new_role(iam, f"wl-a-{p}", trust(ROOT_ARN), allow("secretsmanager:GetSecretValue", arn))
    b_arn = new_role(
        iam,
        f"wl-b-{p}",
        trust(ROOT_ARN),
        allow("secretsmanager:GetSecretValue", secret_arn_pattern(f"{p}/Other-*")),
    )
    a, _ = assume(boto, user, a_arn, "worker-a")
    b, b_session = assume(boto, user, b_arn, "worker-b")
    assert boto("secretsmanager", a).get_secret_value(SecretId=name)["SecretString"] == "a-only"
    assert error_of(boto("secretsmanager", b).get_secret_value, SecretId=name) == (
        ACCESS_DENIED,
        (
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/wl-b-{p}/worker-b is not authorized to "
            f"perform: secretsmanager:GetSecretValue on resource: {name} because no identity-based "
            "policy allows the secretsmanager:GetSecretValue action"
        ),
    )
    assert b_session == f"arn:aws:sts::{ACCOUNT}:assumed-role/wl-b-{p}/worker-b"


# ---------------------------------------------------------------------------
# Explicit denies, boundaries, session policies, resource policies
# ---------------------------------------------------------------------------


def test_explicit_deny_in_identity_policy(boto, iam, sm):
    p = short_id()
    name = f"{p}/denied"
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    user_arn, creds = new_user(
        iam,
        f"deny-{p}",
        allow("secretsmanager:*"),
        deny("secretsmanager:GetSecretValue", secret_arn_pattern(f"{p}/*")),
    )
    app = boto("secretsmanager", creds)
    app.describe_secret(SecretId=name)
    assert error_of(app.get_secret_value, SecretId=name) == (
        ACCESS_DENIED,
        denied(
            user_arn,
            "secretsmanager:GetSecretValue",
            name,
            "with an explicit deny in an identity-based policy",
        ),
    )


def test_permissions_boundary_caps_a_user(boto, iam, sm):
    p = short_id()
    name = f"{p}/bounded"
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    boundary = iam.create_policy(
        PolicyName=f"boundary-{p}", PolicyDocument=policy(allow("secretsmanager:DescribeSecret"))
    )["Policy"]["Arn"]
    user = f"bounded-{p}"
    user_arn, creds = new_user(iam, user, allow("secretsmanager:*"))
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=boundary)
    assert iam.get_user(UserName=user)["User"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": boundary,
    }
    app = boto("secretsmanager", creds)
    app.describe_secret(SecretId=name)
    assert error_of(app.get_secret_value, SecretId=name) == (
        ACCESS_DENIED,
        denied(
            user_arn,
            "secretsmanager:GetSecretValue",
            name,
            "because no permissions boundary allows the secretsmanager:GetSecretValue action",
        ),
    )


def test_session_policy_caps_an_assumed_role(boto, iam, sm):
    p = short_id()
    name = f"{p}/session"
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    role = f"broad-{p}"
    role_arn = new_role(iam, role, trust(ROOT_ARN), allow("secretsmanager:*"))
    _, user = new_user(iam, f"capper-{p}", allow("sts:AssumeRole", role_arn))
    session, session_arn = assume(
        boto, user, role_arn, "capped", Policy=policy(allow("secretsmanager:DescribeSecret"))
    )
    app = boto("secretsmanager", session)
    app.describe_secret(SecretId=name)
    assert error_of(app.get_secret_value, SecretId=name) == (
        ACCESS_DENIED,
        denied(
            session_arn,
            "secretsmanager:GetSecretValue",
            name,
            "because no session policy allows the secretsmanager:GetSecretValue action",
        ),
    )


def test_resource_policy_grants_and_denies(boto, iam, sm):
    p = short_id()
    name = f"{p}/shared"
    arn = sm.create_secret(Name=name, SecretString="shared-value")["ARN"]
    reader_arn, reader = new_user(iam, f"rp-reader-{p}")
    blocked_arn, blocked = new_user(iam, f"rp-blocked-{p}", allow("secretsmanager:*"))
    sm.put_resource_policy(
        SecretId=name,
        ResourcePolicy=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": reader_arn},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            },
            {
                "Effect": "Deny",
                "Principal": {"AWS": blocked_arn},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            },
        ),
    )
    app = boto("secretsmanager", reader)
    assert app.get_secret_value(SecretId=name)["SecretString"] == "shared-value"
    assert error_of(app.describe_secret, SecretId=name) == (
        ACCESS_DENIED,
        no_identity_policy(reader_arn, "secretsmanager:DescribeSecret", name),
    )
    assert error_of(boto("secretsmanager", blocked).get_secret_value, SecretId=name) == (
        ACCESS_DENIED,
        denied(
            blocked_arn,
            "secretsmanager:GetSecretValue",
            name,
            "with an explicit deny in a resource-based policy",
        ),
    )


# ---------------------------------------------------------------------------
# Cross-account through Organizations
# ---------------------------------------------------------------------------


def create_member_account(org) -> str:
    p = short_id()
    status = org.create_account(Email=f"member-{p}@example.com", AccountName=f"member-{p}")[
        "CreateAccountStatus"
    ]
    deadline = time.monotonic() + 10
    while status["State"] == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.1)
        status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])[
            "CreateAccountStatus"
        ]
    assert status["State"] == "SUCCEEDED", status
    account_id = status["AccountId"]
    assert len(account_id) == 12 and account_id.isdigit() and account_id != ACCOUNT
    return account_id


def test_cross_account_reader(boto, iam, sm, org):
    member = create_member_account(org)
    _, operator = new_user(
        iam, f"operator-{short_id()}", allow("sts:AssumeRole", f"arn:aws:iam::{member}:role/*")
    )
    admin, admin_arn = assume(
        boto, operator, f"arn:aws:iam::{member}:role/{ORG_ACCESS_ROLE}", "admin"
    )
    assert admin_arn == f"arn:aws:sts::{member}:assumed-role/{ORG_ACCESS_ROLE}/admin"
    assert boto("sts", admin).get_caller_identity()["Account"] == member

    name = f"{short_id()}/shared/db"
    secret_arn = sm.create_secret(Name=name, SecretString="management-value")["ARN"]
    reader_arn = new_role(
        boto("iam", admin), "reader", trust(ROOT_ARN), allow("secretsmanager:*", secret_arn)
    )
    assert reader_arn == f"arn:aws:iam::{member}:role/reader"
    reader, session_arn = assume(boto, operator, reader_arn, "job")
    app = boto("secretsmanager", reader)

    assert error_of(app.describe_secret, SecretId=secret_arn) == (
        ACCESS_DENIED,
        denied(
            session_arn,
            "secretsmanager:DescribeSecret",
            secret_arn,
            "because no resource-based policy allows the secretsmanager:DescribeSecret action",
        ),
    )
    sm.put_resource_policy(
        SecretId=name,
        ResourcePolicy=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": reader_arn},
                "Action": [
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:GetResourcePolicy",
                    "secretsmanager:ListSecretVersionIds",
                ],
                "Resource": "*",
            }
        ),
    )
    assert app.describe_secret(SecretId=secret_arn)["Name"] == name
    assert app.get_resource_policy(SecretId=secret_arn)["ARN"] == secret_arn
    assert len(app.list_secret_version_ids(SecretId=secret_arn)["Versions"]) == 1
    assert error_of(app.get_secret_value, SecretId=secret_arn) == (
        "InvalidRequestException",
        DEFAULT_KEY_CROSS_ACCOUNT,
    )

    # Isolation: the member account sees none of the management account's secrets or users.
    member_sm = boto("secretsmanager", admin)
    assert member_sm.list_secrets()["SecretList"] == []
    member_iam = boto("iam", admin)
    mgmt_user = f"mgmt-only-{short_id()}"
    iam.create_user(UserName=mgmt_user)
    assert error_of(member_iam.get_user, UserName=mgmt_user) == (
        "NoSuchEntity",
        f"The user with name {mgmt_user} cannot be found.",
    )
    assert member_iam.list_users()["Users"] == []


def test_root_cannot_assume_roles(sts, iam):
    role_arn = new_role(iam, f"not-for-root-{short_id()}", trust(ROOT_ARN))
    assert error_of(sts.assume_role, RoleArn=role_arn, RoleSessionName="root") == (
        "AccessDenied",
        "Roles may not be assumed by root accounts.",
    )


# ---------------------------------------------------------------------------
# Credentials lifecycle
# ---------------------------------------------------------------------------


def test_access_key_lifecycle(boto, iam, sm):
    p = short_id()
    name = f"{p}/keys"
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    user = f"keys-{p}"
    _, creds = new_user(iam, user, allow("secretsmanager:GetSecretValue", arn))
    app = boto("secretsmanager", creds)
    app.get_secret_value(SecretId=name)
    iam.update_access_key(UserName=user, AccessKeyId=creds.access_key, Status="Inactive")
    assert error_of(app.get_secret_value, SecretId=name) == (
        "UnrecognizedClientException",
        INVALID_TOKEN,
    )
    assert error_of(boto("sts", creds).get_caller_identity) == (
        "InvalidClientTokenId",
        INVALID_TOKEN,
    )
    iam.update_access_key(UserName=user, AccessKeyId=creds.access_key, Status="Active")
    app.get_secret_value(SecretId=name)
    iam.delete_access_key(UserName=user, AccessKeyId=creds.access_key)
    assert error_of(app.get_secret_value, SecretId=name) == (
        "UnrecognizedClientException",
        INVALID_TOKEN,
    )


def test_detached_policy_stops_granting_at_once(boto, iam, sm):
    p = short_id()
    name = f"{p}/detach"
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    policy_arn = iam.create_policy(
        PolicyName=f"detach-{p}", PolicyDocument=policy(allow("secretsmanager:GetSecretValue", arn))
    )["Policy"]["Arn"]
    user = f"detach-{p}"
    user_arn, creds = new_user(iam, user)
    iam.attach_user_policy(UserName=user, PolicyArn=policy_arn)
    app = boto("secretsmanager", creds)
    app.get_secret_value(SecretId=name)
    iam.detach_user_policy(UserName=user, PolicyArn=policy_arn)
    assert error_of(app.get_secret_value, SecretId=name) == (
        ACCESS_DENIED,
        no_identity_policy(user_arn, "secretsmanager:GetSecretValue", name),
    )


def test_assume_role_duration_and_external_id(boto, iam):
    p = short_id()
    external_id = f"partner-{p}"
    role = f"partner-{p}"
    role_arn = new_role(
        iam,
        role,
        trust(ROOT_ARN, condition={"StringEquals": {"sts:ExternalId": external_id}}),
    )
    user_arn, user = new_user(iam, f"partner-user-{p}", allow("sts:AssumeRole", role_arn))
    client = boto("sts", user)
    trust_denied = denied(
        user_arn,
        "sts:AssumeRole",
        role_arn,
        "because no role trust policy allows the sts:AssumeRole action",
    )
    assert error_of(client.assume_role, RoleArn=role_arn, RoleSessionName="none") == (
        "AccessDenied",
        trust_denied,
    )
    assert error_of(
        client.assume_role, RoleArn=role_arn, RoleSessionName="wrong", ExternalId="partner-nope"
    ) == ("AccessDenied", trust_denied)
    assert error_of(
        client.assume_role,
        RoleArn=role_arn,
        RoleSessionName="long",
        ExternalId=external_id,
        DurationSeconds=7200,
    ) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    out = client.assume_role(RoleArn=role_arn, RoleSessionName="right", ExternalId=external_id)
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/right"


def test_session_credentials_without_token_are_refused(boto, iam):
    _, user = new_user(iam, f"token-{short_id()}", allow("secretsmanager:ListSecrets"))
    session = Creds.from_sts(boto("sts", user).get_session_token(DurationSeconds=900))
    boto("secretsmanager", session).list_secrets()
    bare = Creds(session.access_key, session.secret_key)
    assert error_of(boto("secretsmanager", bare).list_secrets) == (
        "UnrecognizedClientException",
        INVALID_TOKEN,
    )


def test_session_tags_need_tag_session(boto, iam):
    p = short_id()
    role_arn = new_role(iam, f"untaggable-{p}", trust(ROOT_ARN))
    user_arn, user = new_user(
        iam, f"tagger-{p}", allow(["sts:AssumeRole", "sts:TagSession"], role_arn)
    )
    assert error_of(
        boto("sts", user).assume_role,
        RoleArn=role_arn,
        RoleSessionName="tagged",
        Tags=[{"Key": "team", "Value": "blue"}],
    ) == (
        "AccessDenied",
        denied(
            user_arn,
            "sts:TagSession",
            role_arn,
            "because no role trust policy allows the sts:TagSession action",
        ),
    )


def test_get_session_token_credentials_cannot_call_iam(boto, iam):
    user_arn, user = new_user(iam, f"no-mfa-{short_id()}", allow("iam:*"))
    boto("iam", user).list_users()
    session = Creds.from_sts(boto("sts", user).get_session_token())
    assert error_of(boto("iam", session).list_users) == (
        "InvalidClientTokenId",
        UNUSABLE_SESSION_TOKEN,
    )
    assert boto("sts", session).get_caller_identity()["Arn"] == user_arn

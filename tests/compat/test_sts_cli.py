"""The AWS CLI, unmodified, against kinko's STS actions beyond AssumeRole: `aws sts
get-access-key-info`, `aws sts get-federation-token` and `aws sts decode-authorization-message`."""

from __future__ import annotations

from kinko_compat import ACCOUNT, Creds, allow, assert_cli_error, aws_as, policy, short_id


def test_cli_get_access_key_info(aws, tmp_path):
    name = f"key-info-{short_id()}"
    aws("iam", "create-user", "--user-name", name)
    doc = policy(allow("sts:GetAccessKeyInfo"))
    aws("iam", "put-user-policy", "--user-name", name, "--policy-name", "p", "--policy-document", doc)
    user = Creds.from_access_key(aws("iam", "create-access-key", "--user-name", name).json())
    # A long-term key kinko keeps, temporary credentials kinko issued, and AWS's example key id
    # (its account as AWS's key id layout encodes it).
    session = aws_as(aws, user, "sts", "get-session-token", "--duration-seconds", "900").json()
    temporary = session["Credentials"]["AccessKeyId"]
    assert temporary.startswith("ASIA")
    for key_id, account in [
        (user.access_key, ACCOUNT),
        (temporary, ACCOUNT),
        ("AKIAIOSFODNN7EXAMPLE", "581039954779"),
    ]:
        out = aws_as(aws, user, "sts", "get-access-key-info", "--access-key-id", key_id).json()
        assert out == {"Account": account}, key_id
    # The CLI itself refuses an id shorter than the model's 16 characters; a long enough one that
    # isn't a key id reaches kinko and gets AWS's validation error.
    r = aws_as(aws, user, "sts", "get-access-key-info", "--access-key-id", "AKIA", check=False)
    assert r.returncode != 0 and "valid min length: 16" in r.stderr, str(r)
    r = aws_as(aws, user, "sts", "get-access-key-info", "--access-key-id", "AKIA-not-a-key-id", check=False)
    assert r.returncode == aws.service_error_rc, str(r)
    assert (
        "An error occurred (ValidationError) when calling the GetAccessKeyInfo operation: "
        "1 validation error detected: Value 'AKIA-not-a-key-id' at 'accessKeyId' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\w]*"
    ) in r.stderr, str(r)


def test_cli_get_federation_token(aws):
    name = f"federator-{short_id()}"
    aws("iam", "create-user", "--user-name", name)
    doc = policy(
        allow("sts:GetFederationToken", f"arn:aws:sts::{ACCOUNT}:federated-user/*"),
        allow("secretsmanager:ListSecrets"),
    )
    aws("iam", "put-user-policy", "--user-name", name, "--policy-name", "p", "--policy-document", doc)
    user = Creds.from_access_key(aws("iam", "create-access-key", "--user-name", name).json())
    session_policy = policy(allow("secretsmanager:ListSecrets"))
    out = aws_as(
        aws, user, "sts", "get-federation-token", "--name", "bob", "--policy", session_policy
    ).json()
    assert out["FederatedUser"] == {
        "FederatedUserId": f"{ACCOUNT}:bob",
        "Arn": f"arn:aws:sts::{ACCOUNT}:federated-user/bob",
    }
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert isinstance(out["PackedPolicySize"], int)
    bob = Creds.from_sts(out)
    who = aws_as(aws, bob, "sts", "get-caller-identity").json()
    assert who == {
        "UserId": f"{ACCOUNT}:bob",
        "Account": ACCOUNT,
        "Arn": f"arn:aws:sts::{ACCOUNT}:federated-user/bob",
    }
    # Both the user and the session policy allow it.
    aws_as(aws, bob, "secretsmanager", "list-secrets")
    # Without a session policy a federated user has no permissions.
    bare = Creds.from_sts(aws_as(aws, user, "sts", "get-federation-token", "--name", "bare").json())
    r = aws_as(aws, bare, "secretsmanager", "list-secrets", check=False)
    assert_cli_error(
        aws,
        r,
        "AccessDeniedException",
        "ListSecrets",
        f"User: arn:aws:sts::{ACCOUNT}:federated-user/bare is not authorized to perform: "
        "secretsmanager:ListSecrets because no session policy allows the secretsmanager:ListSecrets action",
    )
    r = aws_as(aws, bob, "sts", "get-federation-token", "--name", "again", check=False)
    assert_cli_error(
        aws,
        r,
        "AccessDenied",
        "GetFederationToken",
        "Cannot call GetFederationToken with session credentials",
    )


def test_cli_decode_authorization_message(aws):
    # kinko's denials carry no encoded message (AWS's Secrets Manager, KMS, IAM and STS denials
    # carry none): a message kinko did not issue is refused.
    r = aws("sts", "decode-authorization-message", "--encoded-message", "bm90LWtpbmtvcw", check=False)
    assert_cli_error(
        aws,
        r,
        "InvalidAuthorizationMessageException",
        "DecodeAuthorizationMessage",
        "The message passed to DecodeAuthorizationMessage is not valid.",
    )

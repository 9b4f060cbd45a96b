"""The AWS CLI, unmodified, against kinko's STS actions that look at credentials rather than
issue them: `aws sts get-access-key-info`."""

from __future__ import annotations

from kinko_compat import ACCOUNT, Creds, allow, aws_as, policy, short_id


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

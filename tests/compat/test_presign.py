"""Presigned URLs made by botocore's ``generate_presigned_url``, fetched with plain ``urllib``."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from xml.etree import ElementTree

from kinko_compat import ACCOUNT, ROOT_ARN, Creds, short_id

STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
IAM_NS = "{https://iam.amazonaws.com/doc/2010-05-08/}"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation "
    "for details."
)


def fetch(url: str, method: str = "GET", headers: dict | None = None, data: bytes | None = None):
    """(status, body) of one request, errors included, never through a proxy."""
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def new_user_key(iam, name: str) -> tuple[str, Creds]:
    """A user without policies (GetCallerIdentity needs none) and its access key."""
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    return arn, Creds.from_access_key(iam.create_access_key(UserName=name))


def caller_arn(body: bytes) -> str:
    root = ElementTree.fromstring(body)
    assert root.tag == f"{STS_NS}GetCallerIdentityResponse", body
    return root.findtext(f"{STS_NS}GetCallerIdentityResult/{STS_NS}Arn")


# AWS behaviour: a presigned GetCallerIdentity URL (the identity proof EKS, Vault and others
# accept) answers the signer's identity to whoever fetches it with the method it was signed for.
def test_presigned_get_caller_identity_url(boto):
    url = boto("sts").generate_presigned_url("get_caller_identity", HttpMethod="GET")
    assert re.search(r"[?&]X-Amz-Signature=[0-9a-f]{64}", url), url
    status, body = fetch(url)
    assert status == 200, body
    assert caller_arn(body) == ROOT_ARN


# Temporary credentials put their token in the URL (X-Amz-Security-Token, signed with the rest).
def test_presigned_url_with_session_credentials(boto, iam):
    user_arn, user = new_user_key(iam, f"presign-{short_id()}")
    session = Creds.from_sts(boto("sts", user).get_session_token(DurationSeconds=900))
    url = boto("sts", session).generate_presigned_url(
        "get_caller_identity", ExpiresIn=60, HttpMethod="GET"
    )
    assert "X-Amz-Security-Token=" in url
    status, body = fetch(url)
    assert status == 200, body
    assert caller_arn(body) == user_arn


def test_presigned_iam_url(boto, iam):
    name = f"presigned-{short_id()}"
    iam.create_user(UserName=name)
    url = boto("iam").generate_presigned_url(
        "get_user", Params={"UserName": name}, HttpMethod="GET"
    )
    status, body = fetch(url)
    assert status == 200, body
    root = ElementTree.fromstring(body)
    user = root.find(f"{IAM_NS}GetUserResult/{IAM_NS}User")
    assert user.findtext(f"{IAM_NS}UserName") == name
    assert user.findtext(f"{IAM_NS}Arn") == f"arn:aws:iam::{ACCOUNT}:user/{name}"


# AWS behaviour: without HttpMethod botocore signs the URL for the operation's own method, POST.
# Fetched with POST it works; fetched with GET, STS answers SignatureDoesNotMatch and shows the
# canonical request it computed, starting with GET (boto/boto3#756, a real STS response).
def test_url_signed_for_post_is_refused_on_get(boto):
    url = boto("sts").generate_presigned_url("get_caller_identity")
    status, body = fetch(url, method="POST", data=b"")
    assert status == 200, body
    assert caller_arn(body) == ROOT_ARN

    status, body = fetch(url)
    assert status == 403, body
    error = ElementTree.fromstring(body).find(f"{STS_NS}Error")
    assert error.findtext(f"{STS_NS}Code") == "SignatureDoesNotMatch"
    message = error.findtext(f"{STS_NS}Message")
    assert message.startswith(
        MISMATCH + "\n\nThe Canonical String for this request should have been\n'GET\n/\n"
        "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&"
    ), message
    assert "\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in message


# A JSON protocol operation presigns too: botocore signs its Content-Type and X-Amz-Target, which
# the request must then carry, and its (empty) body.
def test_presigned_json_protocol_url(boto, sm):
    sm.create_secret(Name=f"presigned/{short_id()}", SecretString="v")
    url = boto("secretsmanager").generate_presigned_url("list_secrets")
    assert "X-Amz-SignedHeaders=content-type%3Bhost%3Bx-amz-target" in url, url
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "secretsmanager.ListSecrets",
    }
    status, body = fetch(url, method="POST", headers=headers, data=b"")
    assert status == 200, body
    # The session's other tests' secrets fill the first page too: check its shape.
    listed = json.loads(body)["SecretList"]
    assert listed and all(entry["ARN"].startswith("arn:aws:secretsmanager:") for entry in listed)

    # The target is signed: the URL can't call another operation.
    headers["X-Amz-Target"] = "secretsmanager.GetRandomPassword"
    status, body = fetch(url, method="POST", headers=headers, data=b"")
    assert status == 400, body
    assert b"InvalidSignatureException" in body

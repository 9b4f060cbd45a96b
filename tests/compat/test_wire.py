"""Raw AWS JSON 1.1 requests, SigV4-signed by botocore's signer: the wire format itself."""

from __future__ import annotations

import base64
import datetime as dt
import re
import urllib.error
import urllib.request
import uuid

from kinko_compat import NOT_FOUND, secret_arn_re, unique, utcnow

JSON_11 = "application/x-amz-json-1.1"
NO_TOKEN = "You must provide a ClientRequestToken value. We recommend a UUID-type value."
AMZ_DATE = r"\d{8}T\d{6}Z"


def error_type(resp) -> str:
    return resp.json()["__type"].rsplit("#", 1)[-1]


def test_success_envelope(raw):
    name, tok = unique("wire/ok"), str(uuid.uuid4())
    resp = raw("CreateSecret", {"Name": name, "SecretString": "v", "ClientRequestToken": tok})
    assert resp.status == 200, resp.body
    assert resp.header("Content-Type").split(";")[0].strip() == JSON_11
    assert resp.header("x-amzn-RequestId")
    out = resp.json()
    assert set(out) == {"ARN", "Name", "VersionId"}
    assert out["VersionId"] == tok
    assert secret_arn_re(name).match(out["ARN"])

    described = raw("DescribeSecret", {"SecretId": name}).json()
    # Timestamps are JSON numbers (epoch seconds), members without a value are omitted.
    assert isinstance(described["CreatedDate"], (int, float))
    assert isinstance(described["LastChangedDate"], (int, float))
    assert abs(described["CreatedDate"] - utcnow().timestamp()) < 60
    assert None not in described.values()


def test_error_envelope(raw):
    resp = raw("GetSecretValue", {"SecretId": unique("wire/missing")})
    assert resp.status == 400
    assert resp.header("Content-Type").split(";")[0].strip() == JSON_11
    assert resp.header("x-amzn-RequestId")
    out = resp.json()
    assert error_type(resp) == "ResourceNotFoundException"
    assert out["Message"] == NOT_FOUND


def test_secret_binary_is_base64_on_the_wire(raw):
    name = unique("wire/bin")
    created = raw(
        "CreateSecret",
        {"Name": name, "SecretBinary": "Zm9vdGVzdA==", "ClientRequestToken": str(uuid.uuid4())},
    )
    assert created.status == 200, created.body
    got = raw("GetSecretValue", {"SecretId": name}).json()
    assert got["SecretBinary"] == "Zm9vdGVzdA=="
    assert base64.b64decode(got["SecretBinary"]) == b"footest"
    assert "SecretString" not in got


def test_list_with_empty_body_object(raw):
    resp = raw("ListSecrets", {})
    assert resp.status == 200, resp.body
    assert isinstance(resp.json()["SecretList"], list)


def test_missing_client_request_token(raw):
    name = unique("wire/notoken")
    for op, payload in [
        ("CreateSecret", {"Name": name, "SecretString": "v"}),
        ("PutSecretValue", {"SecretId": unique("wire/absent"), "SecretString": "v"}),
        ("UpdateSecret", {"SecretId": unique("wire/absent"), "SecretString": "v"}),
    ]:
        resp = raw(op, payload)
        assert resp.status == 400, (op, resp.body)
        assert error_type(resp) == "InvalidRequestException", (op, resp.body)
        assert resp.json()["Message"] == NO_TOKEN, (op, resp.body)
    assert error_type(raw("DescribeSecret", {"SecretId": name})) == "ResourceNotFoundException"


def test_signature_expired(raw):
    resp = raw("ListSecrets", {}, signed_at=utcnow() - dt.timedelta(minutes=10))
    assert resp.status == 400
    assert error_type(resp) == "InvalidSignatureException"
    message = resp.json().get("message") or resp.json().get("Message")
    assert re.fullmatch(
        rf"Signature expired: {AMZ_DATE} is now earlier than {AMZ_DATE} \({AMZ_DATE} - 5 min\.\)",
        message,
    ), message


def test_signature_not_yet_current(raw):
    resp = raw("ListSecrets", {}, signed_at=utcnow() + dt.timedelta(minutes=10))
    assert resp.status == 400
    assert error_type(resp) == "InvalidSignatureException"
    message = resp.json().get("message") or resp.json().get("Message")
    assert re.fullmatch(
        rf"Signature not yet current: {AMZ_DATE} is still later than {AMZ_DATE} "
        rf"\({AMZ_DATE} \+ 5 min\.\)",
        message,
    ), message


def test_small_clock_skew_is_accepted(raw):
    for minutes in (-4, 4):
        resp = raw("ListSecrets", {}, signed_at=utcnow() + dt.timedelta(minutes=minutes))
        assert resp.status == 200, (minutes, resp.body)


def test_unsigned_request_is_rejected(endpoint):
    req = urllib.request.Request(
        endpoint + "/",
        data=b"{}",
        headers={"Content-Type": JSON_11, "X-Amz-Target": "secretsmanager.ListSecrets"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as resp:
            status, text = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read()
    assert status in (400, 403), text
    assert b"MissingAuthenticationToken" in text, text


def test_unknown_operation(raw):
    resp = raw("NoSuchOperation", {})
    assert resp.status == 400
    assert error_type(resp) == "UnknownOperationException"

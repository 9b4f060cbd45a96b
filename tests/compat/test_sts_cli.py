"""The AWS CLI, unmodified, against kinko's STS actions beyond AssumeRole: `aws sts
get-access-key-info`, `aws sts get-federation-token`, `aws sts decode-authorization-message` and
`aws sts assume-role-with-saml`."""

from __future__ import annotations

import hashlib
import json

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


def _saml_idp():
    """An identity provider's RSA key and self-signed certificate."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.kinko-compat.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _saml_response(key, cert, entity: str, role: str, provider: str) -> str:
    """A SAML Response, its assertion signed (RSA-SHA256, exclusive c14n) with signxml, base64."""
    import base64
    import datetime

    from cryptography.hazmat.primitives import serialization
    from lxml import etree
    from signxml import SignatureMethod, XMLSigner

    now = datetime.datetime.now(datetime.timezone.utc)
    fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    issued, until = fmt(now - datetime.timedelta(seconds=5)), fmt(now + datetime.timedelta(minutes=5))
    aid = f"_a{short_id()}"
    attr = "https://aws.amazon.com/SAML/Attributes/"
    assertion = f"""<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{aid}" Version="2.0" IssueInstant="{issued}">
<saml:Issuer>{entity}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="placeholder"/>
<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient">bob@example.com</saml:NameID>
<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="https://signin.aws.amazon.com/saml"/></saml:SubjectConfirmation></saml:Subject>
<saml:Conditions NotBefore="{issued}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>urn:amazon:webservices</saml:Audience></saml:AudienceRestriction></saml:Conditions>
<saml:AuthnStatement AuthnInstant="{issued}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>
<saml:AttributeStatement>
<saml:Attribute Name="{attr}Role"><saml:AttributeValue>{role},{provider}</saml:AttributeValue></saml:Attribute>
<saml:Attribute Name="{attr}RoleSessionName"><saml:AttributeValue>bob</saml:AttributeValue></saml:Attribute>
</saml:AttributeStatement></saml:Assertion>"""
    signer = XMLSigner(signature_algorithm=SignatureMethod.RSA_SHA256, c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    signed = signer.sign(etree.fromstring(assertion), key=pem, cert=cert_pem, reference_uri=aid)
    response = (
        f'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r{short_id()}" Version="2.0" '
        f'IssueInstant="{issued}" Destination="https://signin.aws.amazon.com/saml">'
        f'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
        f"{etree.tostring(signed).decode()}</samlp:Response>"
    )
    return base64.b64encode(response.encode()).decode()


def test_cli_assume_role_with_saml(aws):
    """`aws sts assume-role-with-saml` (unsigned, as the CLI sends it) with an assertion signed by
    a test identity provider whose metadata is the SAML provider's; a tampered one is refused."""
    import base64

    from cryptography.hazmat.primitives import serialization

    key, cert = _saml_idp()
    n = short_id()
    entity = f"https://idp-{n}.kinko-compat.example/saml"
    cert_b64 = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    metadata = f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{entity}/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""
    provider = aws(
        "iam", "create-saml-provider", "--name", f"idp-{n}", "--saml-metadata-document", metadata
    ).json()["SAMLProviderArn"]
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider},
                    "Action": "sts:AssumeRoleWithSAML",
                    "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
                }
            ],
        }
    )
    role = aws(
        "iam", "create-role", "--role-name", f"saml-{n}", "--assume-role-policy-document", trust
    ).json()["Role"]["Arn"]
    saml = _saml_response(key, cert, entity, role, provider)
    args = ["sts", "assume-role-with-saml", "--role-arn", role, "--principal-arn", provider]
    out = aws(*args, "--saml-assertion", saml).json()
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/saml-{n}/bob"
    assert out["Subject"] == "bob@example.com"
    assert out["SubjectType"] == "transient"
    assert out["Issuer"] == entity
    assert out["Audience"] == "https://signin.aws.amazon.com/saml"
    digest = hashlib.sha1(f"{entity}{ACCOUNT}/idp-{n}".encode()).digest()
    assert out["NameQualifier"] == base64.b64encode(digest).decode()
    who = aws_as(aws, Creds.from_sts(out), "sts", "get-caller-identity").json()
    assert who["Arn"] == out["AssumedRoleUser"]["Arn"]

    tampered = base64.b64encode(base64.b64decode(saml).replace(b"bob@example.com", b"eve@example.com")).decode()
    r = aws(*args, "--saml-assertion", tampered, check=False)
    assert_cli_error(aws, r, "InvalidIdentityToken", "AssumeRoleWithSAML", "Response signature invalid")

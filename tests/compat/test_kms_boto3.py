"""boto3 against kinko's KMS: customer managed keys, their errors as boto3 sees them, and Secrets
Manager secrets under those keys, read from the same account and from a member account."""

from __future__ import annotations

import json
import uuid

from kinko_compat import (
    ACCOUNT,
    DECRYPTION_FAILURE,
    DEFAULT_KEY_CROSS_ACCOUNT,
    ENCRYPTION_FAILURE,
    INCORRECT_KEY,
    KMS_DENIED,
    ORG_ACCESS_ROLE,
    REGION,
    ROOT_ARN,
    Creds,
    alias_arn,
    allow,
    azure_connection_string,
    client_error,
    denied,
    key_arn_re,
    key_root_statement,
    new_member_account,
    policy,
    resource_grant,
    secret_arn_pattern,
    short_id,
    trust,
    via_secretsmanager_grant,
)

ACCESS_DENIED = "AccessDeniedException"


def new_key(kms, description: str = "") -> tuple[str, str]:
    """A customer managed key with the default key policy: (key id, key ARN)."""
    meta = kms.create_key(Description=description)["KeyMetadata"]
    assert key_arn_re().match(meta["Arn"]), meta
    assert meta["Arn"].endswith(f":key/{meta['KeyId']}")
    assert (meta["KeyManager"], meta["KeyState"], meta["Enabled"]) == ("CUSTOMER", "Enabled", True)
    assert (meta["KeySpec"], meta["KeyUsage"]) == ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    return meta["KeyId"], meta["Arn"]


def new_role(iam, name: str, trust_doc: str, *statements: dict) -> str:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_doc)["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=policy(*statements))
    return arn


def new_user(iam, name: str, *statements: dict) -> tuple[str, Creds]:
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=policy(*statements))
    return arn, Creds.from_access_key(iam.create_access_key(UserName=name))


def assume(boto, creds: Creds, role_arn: str, session: str) -> tuple[Creds, str]:
    out = boto("sts", creds).assume_role(RoleArn=role_arn, RoleSessionName=session)
    return Creds.from_sts(out), out["AssumedRoleUser"]["Arn"]


def key_ids_by_stage(sm, secret_id: str) -> list[tuple[list[str], list[str]]]:
    versions = sm.list_secret_version_ids(SecretId=secret_id, IncludeDeprecated=True)["Versions"]
    return sorted((v.get("VersionStages", []), v["KmsKeyIds"]) for v in versions)


# ---------------------------------------------------------------------------
# The security team's scenario: a management secret under a customer managed key, read by a
# member account's role through Secrets Manager only
# ---------------------------------------------------------------------------


def test_member_role_reads_management_secret_under_customer_managed_key(boto, iam, sm, org):
    kms = boto("kms")
    p = short_id()
    key_id, key_arn = new_key(kms, "Secrets shared with member accounts")
    alias = f"alias/shared-secrets-{p}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    described = kms.describe_key(KeyId=alias_arn(alias))["KeyMetadata"]
    assert (described["KeyId"], described["Arn"]) == (key_id, key_arn)

    name = f"{p}/shared/azure-storage"
    conn = azure_connection_string(f"prod{p}")
    secret_arn = sm.create_secret(Name=name, KmsKeyId=alias, SecretString=conn)["ARN"]
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == alias
    assert key_ids_by_stage(sm, name) == [(["AWSCURRENT"], [key_arn])]

    # The member account, administered through OrganizationAccountAccessRole.
    member = new_member_account(org)
    _, operator = new_user(
        iam, f"operator-{p}", allow("sts:AssumeRole", f"arn:aws:iam::{member}:role/*")
    )
    admin, _ = assume(boto, operator, f"arn:aws:iam::{member}:role/{ORG_ACCESS_ROLE}", "admin")
    member_iam = boto("iam", admin)
    # The secrets the team shares: this one, and the one under the default key further down.
    reads = allow("secretsmanager:GetSecretValue", secret_arn_pattern(f"{p}/shared/*"))
    decrypts = allow("kms:Decrypt", key_arn)
    reader = new_role(member_iam, "azure-reader", trust(ROOT_ARN), reads, decrypts)
    assert reader == f"arn:aws:iam::{member}:role/azure-reader"
    # Named by the key policy, but its own policy doesn't allow kms:Decrypt.
    no_identity = new_role(member_iam, "no-kms-in-iam", trust(ROOT_ARN), reads)
    # Its own policy allows kms:Decrypt, but the key policy doesn't name it.
    outsider = new_role(member_iam, "not-in-key-policy", trust(ROOT_ARN), reads, decrypts)

    key_policy = policy(key_root_statement(), via_secretsmanager_grant([reader, no_identity]))
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=key_policy)
    got_policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    assert json.loads(got_policy) == json.loads(key_policy)
    sm.put_resource_policy(
        SecretId=name, ResourcePolicy=resource_grant([reader, no_identity, outsider])
    )

    session, session_arn = assume(boto, operator, reader, "app")
    assert session_arn == f"arn:aws:sts::{member}:assumed-role/azure-reader/app"
    app = boto("secretsmanager", session)
    got = app.get_secret_value(SecretId=secret_arn)
    assert (got["ARN"], got["Name"], got["SecretString"]) == (secret_arn, name, conn)
    assert got["VersionStages"] == ["AWSCURRENT"]

    # The JSON form, written by the management account, read by the member role.
    doc = {"connectionString": conn, "container": "invoices"}
    sm.put_secret_value(SecretId=name, SecretString=json.dumps(doc))
    assert json.loads(app.get_secret_value(SecretId=secret_arn)["SecretString"]) == doc

    # Using the key directly (no kms:ViaService) is outside the key policy's grant.
    blob = kms.encrypt(KeyId=alias, Plaintext=b"direct")["CiphertextBlob"]
    assert client_error(boto("kms", session).decrypt, CiphertextBlob=blob, KeyId=key_arn) == (
        ACCESS_DENIED,
        denied(
            session_arn,
            "kms:Decrypt",
            key_arn,
            "because no resource-based policy allows the kms:Decrypt action",
        ),
        400,
    )

    # Both the key policy and the caller's own policies must allow kms:Decrypt.
    for role in (no_identity, outsider):
        creds, _ = assume(boto, operator, role, "denied")
        assert client_error(
            boto("secretsmanager", creds).get_secret_value, SecretId=secret_arn
        ) == (ACCESS_DENIED, KMS_DENIED, 400)

    # A disabled key stops reads and writes; enabled again, the value is back.
    kms.disable_key(KeyId=key_id)
    assert client_error(app.get_secret_value, SecretId=secret_arn) == (
        "DecryptionFailure",
        DECRYPTION_FAILURE,
        400,
    )
    assert client_error(sm.put_secret_value, SecretId=name, SecretString="x") == (
        "EncryptionFailure",
        ENCRYPTION_FAILURE,
        400,
    )
    kms.enable_key(KeyId=key_id)
    assert json.loads(app.get_secret_value(SecretId=secret_arn)["SecretString"]) == doc

    # Shared the same way under the AWS managed key, the secret can't be read across accounts.
    default_arn = sm.create_secret(Name=f"{p}/shared/default-key", SecretString="v")["ARN"]
    sm.put_resource_policy(SecretId=default_arn, ResourcePolicy=resource_grant([reader]))
    assert client_error(app.get_secret_value, SecretId=default_arn) == (
        "InvalidRequestException",
        DEFAULT_KEY_CROSS_ACCOUNT,
        400,
    )


def test_same_account_role_needs_kms_decrypt_for_customer_managed_keys_only(boto, iam, sm):
    kms = boto("kms")
    p = short_id()
    _, key_arn = new_key(kms)
    cmk_arn = sm.create_secret(Name=f"{p}/cmk", KmsKeyId=key_arn, SecretString="cmk-value")["ARN"]
    default_arn = sm.create_secret(Name=f"{p}/default", SecretString="default-value")["ARN"]
    role = new_role(
        iam,
        f"sm-only-{p}",
        trust(ROOT_ARN),
        allow("secretsmanager:GetSecretValue", [cmk_arn, default_arn]),
    )
    _, user = new_user(iam, f"sm-only-user-{p}", allow("sts:AssumeRole", role))
    session, _ = assume(boto, user, role, "app")
    app = boto("secretsmanager", session)
    # The AWS managed key's policy serves every principal of the account through Secrets Manager.
    assert app.get_secret_value(SecretId=default_arn)["SecretString"] == "default-value"
    # The customer managed key's default policy delegates to IAM, which grants no kms:Decrypt.
    assert client_error(app.get_secret_value, SecretId=cmk_arn) == (ACCESS_DENIED, KMS_DENIED, 400)
    iam.put_role_policy(
        RoleName=f"sm-only-{p}",
        PolicyName="decrypt",
        PolicyDocument=policy(allow("kms:Decrypt", key_arn)),
    )
    assert app.get_secret_value(SecretId=cmk_arn)["SecretString"] == "cmk-value"


def test_update_secret_kms_key_id_reencrypts_labelled_versions(boto, sm):
    kms = boto("kms")
    name = f"{short_id()}/rekey"
    sm.create_secret(Name=name, SecretString="v1")
    sm.put_secret_value(SecretId=name, SecretString="v2")
    default = ["DefaultEncryptionKey"]
    assert key_ids_by_stage(sm, name) == [(["AWSCURRENT"], default), (["AWSPREVIOUS"], default)]
    key_id, key_arn = new_key(kms)
    sm.update_secret(SecretId=name, KmsKeyId=key_id)
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == key_id
    assert key_ids_by_stage(sm, name) == [
        (["AWSCURRENT"], [key_arn]),
        (["AWSPREVIOUS"], [key_arn]),
    ]
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v1"
    # Really under the key now: disabled, neither version can be read.
    kms.disable_key(KeyId=key_id)
    for stage in ("AWSCURRENT", "AWSPREVIOUS"):
        assert client_error(sm.get_secret_value, SecretId=name, VersionStage=stage) == (
            "DecryptionFailure",
            DECRYPTION_FAILURE,
            400,
        )
    kms.enable_key(KeyId=key_id)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v2"


# ---------------------------------------------------------------------------
# KMS errors as boto3 sees them
# ---------------------------------------------------------------------------


def test_kms_error_shapes(boto):
    kms = boto("kms")
    missing = str(uuid.uuid4())
    assert client_error(kms.describe_key, KeyId=missing) == (
        "NotFoundException",
        f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}' does not exist",
        400,
    )
    assert client_error(kms.describe_key, KeyId="not-a-key-id") == (
        "NotFoundException",
        "Invalid keyId 'not-a-key-id'",
        400,
    )
    alias = f"alias/missing-{short_id()}"
    assert client_error(kms.encrypt, KeyId=alias, Plaintext=b"x") == (
        "NotFoundException",
        f"Alias {alias_arn(alias)} is not found.",
        400,
    )

    key_id, key_arn = new_key(kms)
    other_id, _ = new_key(kms)
    context = {"tenant": "acme", "purpose": "billing"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"payload", EncryptionContext=context)[
        "CiphertextBlob"
    ]
    invalid = ("InvalidCiphertextException", "", 400)
    tampered = blob[:-1] + bytes([blob[-1] ^ 0x01])
    assert client_error(kms.decrypt, CiphertextBlob=tampered, EncryptionContext=context) == invalid
    assert client_error(kms.decrypt, CiphertextBlob=b"not a ciphertext blob") == invalid
    for wrong in ({"tenant": "acme", "purpose": "Billing"}, {"tenant": "acme"}, None):
        kw = {"EncryptionContext": wrong} if wrong is not None else {}
        assert client_error(kms.decrypt, CiphertextBlob=blob, **kw) == invalid, wrong
    assert client_error(
        kms.decrypt, CiphertextBlob=blob, EncryptionContext=context, KeyId=other_id
    ) == ("IncorrectKeyException", INCORRECT_KEY, 400)
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == b"payload"

    kms.disable_key(KeyId=key_id)
    disabled = ("DisabledException", f"{key_arn} is disabled.", 400)
    assert client_error(kms.encrypt, KeyId=key_id, Plaintext=b"x") == disabled
    assert client_error(kms.decrypt, CiphertextBlob=blob, EncryptionContext=context) == disabled
    assert client_error(kms.generate_data_key, KeyId=key_id, KeySpec="AES_256") == disabled

    deletion = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert (deletion["KeyId"], deletion["KeyState"], deletion["PendingWindowInDays"]) == (
        key_arn,
        "PendingDeletion",
        7,
    )
    pending = ("KMSInvalidStateException", f"{key_arn} is pending deletion.", 400)
    assert client_error(kms.decrypt, CiphertextBlob=blob, EncryptionContext=context) == pending
    assert client_error(kms.enable_key, KeyId=key_id) == pending
    assert client_error(kms.schedule_key_deletion, KeyId=key_id) == pending
    assert kms.cancel_key_deletion(KeyId=key_id)["KeyId"] == key_arn
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    assert client_error(kms.cancel_key_deletion, KeyId=key_id) == (
        "KMSInvalidStateException",
        f"{key_arn} is not pending deletion.",
        400,
    )


# ---------------------------------------------------------------------------
# Cryptographic operations
# ---------------------------------------------------------------------------


def test_kms_cryptographic_operations(boto):
    kms = boto("kms")
    a_id, a_arn = new_key(kms)
    b_id, b_arn = new_key(kms)
    context = {"SecretARN": "arn:aws:secretsmanager:example", "SecretVersionId": "v1"}

    enc = kms.encrypt(KeyId=a_id, Plaintext=b"hello kms", EncryptionContext=context)
    assert (enc["KeyId"], enc["EncryptionAlgorithm"]) == (a_arn, "SYMMETRIC_DEFAULT")
    # No KeyId: the blob names its key.
    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=context)
    assert (dec["Plaintext"], dec["KeyId"], dec["EncryptionAlgorithm"]) == (
        b"hello kms",
        a_arn,
        "SYMMETRIC_DEFAULT",
    )

    moved = kms.re_encrypt(
        CiphertextBlob=enc["CiphertextBlob"],
        SourceEncryptionContext=context,
        DestinationKeyId=b_id,
        DestinationEncryptionContext={"stage": "moved"},
    )
    assert (moved["SourceKeyId"], moved["KeyId"]) == (a_arn, b_arn)
    dec = kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"stage": "moved"})
    assert (dec["Plaintext"], dec["KeyId"]) == (b"hello kms", b_arn)
    assert client_error(
        kms.re_encrypt,
        CiphertextBlob=enc["CiphertextBlob"],
        SourceEncryptionContext=context,
        SourceKeyId=b_id,
        DestinationKeyId=a_id,
    ) == ("IncorrectKeyException", INCORRECT_KEY, 400)

    data_key = kms.generate_data_key(KeyId=a_arn, KeySpec="AES_256", EncryptionContext=context)
    assert data_key["KeyId"] == a_arn and len(data_key["Plaintext"]) == 32
    dec = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext=context)
    assert dec["Plaintext"] == data_key["Plaintext"]
    short = kms.generate_data_key(KeyId=a_id, NumberOfBytes=16)
    assert len(short["Plaintext"]) == 16
    assert kms.decrypt(CiphertextBlob=short["CiphertextBlob"])["Plaintext"] == short["Plaintext"]

    sealed = kms.generate_data_key_without_plaintext(
        KeyId=b_id, KeySpec="AES_128", EncryptionContext=context
    )
    assert "Plaintext" not in sealed and sealed["KeyId"] == b_arn
    opened = kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"], EncryptionContext=context)
    assert len(opened["Plaintext"]) == 16 and opened["KeyId"] == b_arn

    first = kms.generate_random(NumberOfBytes=64)["Plaintext"]
    second = kms.generate_random(NumberOfBytes=64)["Plaintext"]
    assert len(first) == len(second) == 64 and first != second
    assert client_error(kms.generate_random) == (
        "ValidationException",
        "NumberOfBytes is required.",
        400,
    )
    assert client_error(kms.generate_random, NumberOfBytes=1025) == (
        "ValidationException",
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy "
        "constraint: Member must have value less than or equal to 1024",
        400,
    )


def test_rotate_key_on_demand_keeps_old_ciphertexts_decrypting(boto, sm):
    kms = boto("kms")
    key_id, key_arn = new_key(kms)
    name = f"{short_id()}/rotated"
    sm.create_secret(Name=name, KmsKeyId=key_arn, SecretString="before rotation")
    old = kms.encrypt(KeyId=key_id, Plaintext=b"old", EncryptionContext={"k": "v"})
    assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == key_id
    new = kms.encrypt(KeyId=key_id, Plaintext=b"new", EncryptionContext={"k": "v"})
    for blob, plain in ((old, b"old"), (new, b"new")):
        dec = kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"k": "v"})
        assert (dec["Plaintext"], dec["KeyId"]) == (plain, key_arn)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "before rotation"
    assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == key_id
    again = kms.decrypt(CiphertextBlob=old["CiphertextBlob"], EncryptionContext={"k": "v"})
    assert again["Plaintext"] == b"old"
    kms.disable_key(KeyId=key_id)
    assert client_error(kms.rotate_key_on_demand, KeyId=key_id) == (
        "DisabledException",
        f"{key_arn} is disabled.",
        400,
    )

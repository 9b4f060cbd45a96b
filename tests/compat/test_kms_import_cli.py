"""Importing key material as AWS documents it ("Importing key material step by step"): the AWS CLI
gets the wrapping public key and import token, `openssl` makes 256 bits of key material and
wraps them with RSAES-OAEP SHA-256, the CLI imports them; the `cryptography` package wraps with
RSA_AES_KEY_WRAP_SHA_256 (RSAES-OAEP plus AES key wrap with padding) for boto3."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from kinko_compat import assert_cli_error, client_error


def openssl(*args: str) -> None:
    path = shutil.which("openssl")
    assert path, "openssl is not installed (scripts/setup.sh installs it)"
    subprocess.run([path, *args], check=True, capture_output=True)


def get_parameters(aws, key_id: str, tmp_path: Path, algorithm: str) -> tuple[Path, Path]:
    """get-parameters-for-import, its base64 members decoded into files as AWS's guide does."""
    out = aws(
        "kms", "get-parameters-for-import", "--key-id", key_id,
        "--wrapping-algorithm", algorithm, "--wrapping-key-spec", "RSA_3072",
    ).json()
    public = tmp_path / "WrappingPublicKey.bin"
    token = tmp_path / "ImportToken.bin"
    public.write_bytes(base64.b64decode(out["PublicKey"]))
    token.write_bytes(base64.b64decode(out["ImportToken"]))
    return public, token


def import_material(aws, key_id: str, encrypted: Path, token: Path, check: bool = True):
    return aws(
        "kms", "import-key-material", "--key-id", key_id,
        "--encrypted-key-material", f"fileb://{encrypted}", "--import-token", f"fileb://{token}",
        "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE",
        check=check,
    )


def test_cli_and_openssl_import_key_material(aws, tmp_path: Path):
    meta = aws("kms", "create-key", "--origin", "EXTERNAL").json()["KeyMetadata"]
    key_id, arn = meta["KeyId"], meta["Arn"]
    assert meta["Origin"] == "EXTERNAL"
    assert meta["KeyState"] == "PendingImport"

    public, token = get_parameters(aws, key_id, tmp_path, "RSAES_OAEP_SHA_256")
    material = tmp_path / "PlaintextKeyMaterial.bin"
    encrypted = tmp_path / "EncryptedKeyMaterial.bin"
    openssl("rand", "-out", str(material), "32")
    openssl(
        "pkeyutl", "-encrypt", "-in", str(material), "-out", str(encrypted),
        "-inkey", str(public), "-keyform", "DER", "-pubin",
        "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
        "-pkeyopt", "rsa_mgf1_md:sha256",
    )
    out = import_material(aws, key_id, encrypted, token).json()
    assert out["KeyId"] == arn
    meta = aws("kms", "describe-key", "--key-id", key_id).json()["KeyMetadata"]
    assert meta["KeyState"] == "Enabled"
    assert meta["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"

    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"protected by imported material")
    blob = aws(
        "kms", "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{plain}",
        "--query", "CiphertextBlob", "--output", "text",
    ).stdout.strip()
    cipher = tmp_path / "cipher.bin"
    cipher.write_bytes(base64.b64decode(blob))

    aws("kms", "delete-imported-key-material", "--key-id", key_id)
    result = aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{cipher}", check=False)
    assert_cli_error(aws, result, "KMSInvalidStateException", "Decrypt", f"{arn} is pending import.")

    # Other material is refused; the same material, wrapped anew, brings the key back.
    other = tmp_path / "OtherKeyMaterial.bin"
    openssl("rand", "-out", str(other), "32")
    public, token = get_parameters(aws, key_id, tmp_path, "RSAES_OAEP_SHA_256")
    for source, name in ((other, "other.enc"), (material, "same.enc")):
        openssl(
            "pkeyutl", "-encrypt", "-in", str(source), "-out", str(tmp_path / name),
            "-inkey", str(public), "-keyform", "DER", "-pubin",
            "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
            "-pkeyopt", "rsa_mgf1_md:sha256",
        )
    result = import_material(aws, key_id, tmp_path / "other.enc", token, check=False)
    assert result.returncode == aws.service_error_rc, str(result)
    assert "(IncorrectKeyMaterialException)" in result.stderr
    import_material(aws, key_id, tmp_path / "same.enc", token)
    decrypted = aws(
        "kms", "decrypt", "--ciphertext-blob", f"fileb://{cipher}",
        "--query", "Plaintext", "--output", "text",
    ).stdout.strip()
    assert base64.b64decode(decrypted) == b"protected by imported material"


@pytest.fixture(scope="module")
def kms(boto):
    return boto("kms")


def test_boto3_imports_material_wrapped_with_rsa_aes_key_wrap(kms):
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256", WrappingKeySpec="RSA_4096"
    )
    public = serialization.load_der_public_key(params["PublicKey"])
    assert public.key_size == 4096
    material, aes = os.urandom(32), os.urandom(32)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    wrapped = public.encrypt(aes, oaep) + aes_key_wrap_with_padding(aes, material)
    kms.import_key_material(
        KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    # The same material again, without a wrapping that matches the token: no material at all.
    code, _, status = client_error(
        kms.import_key_material,
        KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=b"\x00" * 600,
    )
    assert (code, status) == ("InvalidCiphertextException", 400)

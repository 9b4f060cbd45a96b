"""boto3 against kinko's asymmetric and HMAC KMS keys, checked with independent implementations:
the `cryptography` package verifies kinko's signatures against GetPublicKey's DER public key and
encrypts to it with RSAES-OAEP for kinko to decrypt (and decrypts nothing: the private key stays
in kinko), and `openssl` verifies a signature from the command line."""

from __future__ import annotations

import hashlib
import hmac as std_hmac
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from kinko_compat import client_error

MESSAGE = b"kinko signs this message"

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
HASHLIB = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}

CURVES = {
    "ECC_NIST_P256": (ec.SECP256R1, "ECDSA_SHA_256"),
    "ECC_NIST_P384": (ec.SECP384R1, "ECDSA_SHA_384"),
    "ECC_NIST_P521": (ec.SECP521R1, "ECDSA_SHA_512"),
    "ECC_SECG_P256K1": (ec.SECP256K1, "ECDSA_SHA_256"),
}

RSA_ALGORITHMS = [
    f"RSASSA_{scheme}_SHA_{bits}" for scheme in ("PSS", "PKCS1_V1_5") for bits in ("256", "384", "512")
]


@pytest.fixture(scope="module")
def kms(boto):
    return boto("kms")


def new_key(kms, spec: str, usage: str) -> str:
    return kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"]


def public_key(kms, key_id: str):
    der = kms.get_public_key(KeyId=key_id)["PublicKey"]
    return der, serialization.load_der_public_key(der)


def verify_externally(public, alg: str, message: bytes, signature: bytes) -> None:
    """Raises InvalidSignature unless `signature` is `alg`'s signature of `message`."""
    hash_cls = HASHES[alg[-3:]]
    if alg.startswith("ECDSA"):
        public.verify(signature, message, ec.ECDSA(hash_cls()))
    elif alg.startswith("RSASSA_PSS"):
        pss = padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=hash_cls.digest_size)
        public.verify(signature, message, pss, hash_cls())
    else:
        public.verify(signature, message, padding.PKCS1v15(), hash_cls())


@pytest.mark.parametrize("spec", ["RSA_2048", "RSA_3072", "RSA_4096"])
def test_rsa_signatures_verify_with_cryptography(kms, spec):
    key = new_key(kms, spec, "SIGN_VERIFY")
    _, public = public_key(kms, key)
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == int(spec[4:])
    for alg in RSA_ALGORITHMS:
        signature = kms.sign(KeyId=key, Message=MESSAGE, SigningAlgorithm=alg)["Signature"]
        verify_externally(public, alg, MESSAGE, signature)
        with pytest.raises(InvalidSignature):
            verify_externally(public, alg, MESSAGE + b"!", signature)
        # A signature of the digest is the same as of the message.
        digest = HASHLIB[alg[-3:]](MESSAGE).digest()
        of_digest = kms.sign(KeyId=key, Message=digest, MessageType="DIGEST", SigningAlgorithm=alg)
        verify_externally(public, alg, MESSAGE, of_digest["Signature"])


@pytest.mark.parametrize("spec", sorted(CURVES))
def test_ecdsa_signatures_verify_with_cryptography(kms, spec):
    curve, alg = CURVES[spec]
    key = new_key(kms, spec, "SIGN_VERIFY")
    _, public = public_key(kms, key)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert isinstance(public.curve, curve)
    signature = kms.sign(KeyId=key, Message=MESSAGE, SigningAlgorithm=alg)["Signature"]
    verify_externally(public, alg, MESSAGE, signature)
    # DER-encoded (r, s), as AWS returns it.
    r, s = utils.decode_dss_signature(signature)
    assert r > 0 and s > 0
    digest = HASHLIB[alg[-3:]](MESSAGE).digest()
    prehashed = ec.ECDSA(utils.Prehashed(HASHES[alg[-3:]]()))
    public.verify(signature, digest, prehashed)
    # kinko's Verify agrees, and refuses a signature of another message without a message.
    assert kms.verify(KeyId=key, Message=MESSAGE, Signature=signature, SigningAlgorithm=alg)["SignatureValid"]
    code, message, status = client_error(
        kms.verify, KeyId=key, Message=b"other", Signature=signature, SigningAlgorithm=alg
    )
    assert (code, status) == ("KMSInvalidSignatureException", 400)


def test_openssl_verifies_a_signature_with_the_der_public_key(kms, tmp_path: Path):
    openssl = shutil.which("openssl")
    assert openssl, "openssl is not installed (scripts/setup.sh installs it)"
    for spec, alg, digest_flag in [
        ("ECC_NIST_P256", "ECDSA_SHA_256", "-sha256"),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_384", "-sha384"),
    ]:
        key = new_key(kms, spec, "SIGN_VERIFY")
        der, _ = public_key(kms, key)
        (tmp_path / "public.der").write_bytes(der)
        (tmp_path / "message").write_bytes(MESSAGE)
        signature = kms.sign(KeyId=key, Message=MESSAGE, SigningAlgorithm=alg)["Signature"]
        (tmp_path / "signature").write_bytes(signature)
        verify = [
            openssl, "dgst", digest_flag, "-verify", str(tmp_path / "public.der"), "-keyform", "DER",
            "-signature", str(tmp_path / "signature"), str(tmp_path / "message"),
        ]
        out = subprocess.run(verify, capture_output=True, text=True, check=False)
        assert out.returncode == 0 and "Verified OK" in out.stdout, (spec, out.stdout, out.stderr)
        (tmp_path / "message").write_bytes(MESSAGE + b"!")
        out = subprocess.run(verify, capture_output=True, text=True, check=False)
        assert out.returncode != 0, (spec, out.stdout)
    # RSA-PSS through pkeyutl, on the SHA-256 digest, with the salt as long as the digest.
    key = new_key(kms, "RSA_3072", "SIGN_VERIFY")
    der, _ = public_key(kms, key)
    (tmp_path / "public.der").write_bytes(der)
    digest = hashlib.sha256(MESSAGE).digest()
    (tmp_path / "digest").write_bytes(digest)
    signature = kms.sign(KeyId=key, Message=MESSAGE, SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    (tmp_path / "signature").write_bytes(signature)
    out = subprocess.run(
        [
            openssl, "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "public.der"), "-keyform", "DER",
            "-in", str(tmp_path / "digest"), "-sigfile", str(tmp_path / "signature"),
            "-pkeyopt", "digest:sha256", "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:32",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0 and "Signature Verified Successfully" in out.stdout, (out.stdout, out.stderr)


@pytest.mark.parametrize(
    "alg,hash_cls,limit", [("RSAES_OAEP_SHA_1", hashes.SHA1, 214), ("RSAES_OAEP_SHA_256", hashes.SHA256, 190)]
)
def test_rsa_oaep_interoperates_with_cryptography(kms, alg, hash_cls, limit):
    key = new_key(kms, "RSA_2048", "ENCRYPT_DECRYPT")
    _, public = public_key(kms, key)
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hash_cls()), algorithm=hash_cls(), label=None)
    # Encrypted by `cryptography` with the public key, decrypted by kinko.
    plaintext = bytes(range(limit)) if limit <= 256 else b"x" * limit
    ciphertext = public.encrypt(plaintext, oaep)
    out = kms.decrypt(KeyId=key, CiphertextBlob=ciphertext, EncryptionAlgorithm=alg)
    assert out["Plaintext"] == plaintext
    assert out["EncryptionAlgorithm"] == alg
    # Encrypted by kinko, decrypted by kinko: a fresh ciphertext each time (OAEP is randomized).
    first = kms.encrypt(KeyId=key, Plaintext=b"secret", EncryptionAlgorithm=alg)["CiphertextBlob"]
    second = kms.encrypt(KeyId=key, Plaintext=b"secret", EncryptionAlgorithm=alg)["CiphertextBlob"]
    assert first != second and len(first) == 256
    assert kms.decrypt(KeyId=key, CiphertextBlob=first, EncryptionAlgorithm=alg)["Plaintext"] == b"secret"
    code, _, status = client_error(kms.encrypt, KeyId=key, Plaintext=b"x" * (limit + 1), EncryptionAlgorithm=alg)
    assert (code, status) == ("ValidationException", 400)


def test_hmac_keys_and_wrong_usage_errors(kms):
    key = new_key(kms, "HMAC_256", "GENERATE_VERIFY_MAC")
    meta = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert meta["MacAlgorithms"] == ["HMAC_SHA_256"]
    assert "EncryptionAlgorithms" not in meta and "SigningAlgorithms" not in meta
    mac = kms.generate_mac(KeyId=key, Message=b"data", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert len(mac) == 32
    assert kms.verify_mac(KeyId=key, Message=b"data", Mac=mac, MacAlgorithm="HMAC_SHA_256")["MacValid"]
    assert not std_hmac.compare_digest(mac, bytes(32))
    code, message, status = client_error(
        kms.verify_mac, KeyId=key, Message=b"datA", Mac=mac, MacAlgorithm="HMAC_SHA_256"
    )
    assert (code, message, status) == ("KMSInvalidMacException", "", 400)
    symmetric = kms.create_key()["KeyMetadata"]
    code, message, _ = client_error(
        kms.sign, KeyId=symmetric["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256"
    )
    assert code == "InvalidKeyUsageException"
    assert message == f"{symmetric['Arn']} key usage is ENCRYPT_DECRYPT which is not valid for Sign."


def test_data_key_pair_private_key_matches_its_public_key(kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for spec in ("RSA_2048", "ECC_NIST_P384"):
        out = kms.generate_data_key_pair(KeyId=key, KeyPairSpec=spec, EncryptionContext={"k": "v"})
        private = serialization.load_der_private_key(out["PrivateKeyPlaintext"], password=None)
        public_der = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert public_der == out["PublicKey"], spec
        opened = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"], EncryptionContext={"k": "v"})
        assert opened["Plaintext"] == out["PrivateKeyPlaintext"]


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"])
def test_derive_shared_secret_matches_the_peers_ecdh(kms, spec):
    """DeriveSharedSecret with a KEY_AGREEMENT key: the secret kinko derives from its private key
    and the peer's public key is the one the peer derives with `cryptography` from its private
    key and GetPublicKey's public key."""
    key_id = new_key(kms, spec, "KEY_AGREEMENT")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyAgreementAlgorithms"] == ["ECDH"]
    _, kms_public = public_key(kms, key_id)
    peer = ec.generate_private_key(CURVES[spec][0]())
    peer_der = peer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    out = kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer_der)
    assert out["KeyAgreementAlgorithm"] == "ECDH"
    assert out["SharedSecret"] == peer.exchange(ec.ECDH(), kms_public)
    bare_point = b"\x04" + b"\x01" * 64
    code, _, status = client_error(
        kms.derive_shared_secret, KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=bare_point
    )
    assert (code, status) == ("ValidationException", 400)

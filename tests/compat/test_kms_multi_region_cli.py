"""The AWS CLI against kinko's multi-Region keys: a key made in one region, replicated to another,
decrypts there what was encrypted in the first, and the other way round."""

from __future__ import annotations

import base64
from pathlib import Path

WEST = "us-west-2"


def test_a_replica_decrypts_the_primarys_ciphertext(aws, tmp_path: Path):
    meta = aws("kms", "create-key", "--multi-region", "--description", "primary").json()["KeyMetadata"]
    key_id = meta["KeyId"]
    assert key_id.startswith("mrk-")
    assert meta["MultiRegion"] is True
    assert meta["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"

    out = aws("kms", "replicate-key", "--key-id", key_id, "--replica-region", WEST).json()
    replica = out["ReplicaKeyMetadata"]
    assert replica["KeyId"] == key_id
    assert replica["Arn"] == meta["Arn"].replace(":us-east-1:", f":{WEST}:")
    assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert replica["MultiRegionConfiguration"]["PrimaryKey"]["Arn"] == meta["Arn"]

    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"written in us-east-1")
    blob = aws(
        "kms", "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{plain}",
        "--query", "CiphertextBlob", "--output", "text",
    ).stdout.strip()
    cipher = tmp_path / "cipher.bin"
    cipher.write_bytes(base64.b64decode(blob))
    out = aws("--region", WEST, "kms", "decrypt", "--ciphertext-blob", f"fileb://{cipher}").json()
    assert base64.b64decode(out["Plaintext"]) == b"written in us-east-1"
    assert out["KeyId"] == replica["Arn"]

    described = aws("kms", "describe-key", "--key-id", key_id).json()["KeyMetadata"]
    replicas = described["MultiRegionConfiguration"]["ReplicaKeys"]
    assert replicas == [{"Arn": replica["Arn"], "Region": WEST}]

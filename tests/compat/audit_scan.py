"""Every secret the compatibility run handles, looked for in the shared server's audit log.

While the suite runs, the values that must never be recorded are collected from what the clients
send and receive: secret values (string and binary), KMS plaintexts and ciphertext blobs, secret
access keys, session tokens, passwords and random passwords. They are collected from boto3 calls
(every client in this process), AWS CLI calls (the flags that carry them and the JSON the CLI
prints) and raw requests. When the server stops, its audit log must hold none of them, in any
encoding a record could give them: as they are, JSON-escaped, base64 (standard or URL-safe, at
any alignment inside a longer encoded value) or hex.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Iterable

# Members that carry what a record must never hold, in requests and answers of every service.
SENSITIVE_MEMBERS = frozenset(
    {
        "SecretString",
        "SecretBinary",
        "Plaintext",
        "CiphertextBlob",
        "CiphertextForRecipient",
        "SecretAccessKey",
        "SessionToken",
        "Password",
        "NewPassword",
        "OldPassword",
        "RandomPassword",
        "PrivateKeyPlaintext",
    }
)

# The AWS CLI flags whose value is such a secret (given inline, not as a file).
SENSITIVE_FLAGS = frozenset(
    {"--secret-string", "--plaintext", "--password", "--new-password", "--old-password"}
)

# Shorter values are too likely to occur by chance (a field name, a number), and so are plain
# words (a value `verified` is also a word of an error message): neither is looked for.
MIN_LENGTH = 8


class Seen:
    """The secrets seen so far, each with where it came from."""

    def __init__(self) -> None:
        self.values: dict[bytes, str] = {}

    def add(self, value: Any, what: str) -> None:
        if isinstance(value, str):
            value = value.encode()
        elif hasattr(value, "read"):
            return  # a stream: its bytes are not known here
        if isinstance(value, (bytes, bytearray)) and len(value) >= MIN_LENGTH and not value.isalpha():
            self.values.setdefault(bytes(value), what)

    def collect(self, obj: Any, where: str) -> None:
        """Adds the sensitive members found anywhere in `obj` (dicts and lists, nested)."""
        if isinstance(obj, dict):
            for key, value in obj.items():
                if key in SENSITIVE_MEMBERS and not isinstance(value, (dict, list)):
                    self.add(value, f"{key} of {where}")
                else:
                    self.collect(value, where)
        elif isinstance(obj, list):
            for item in obj:
                self.collect(item, where)

    def collect_cli(self, args: Iterable[str], stdout: str) -> None:
        args = list(args)
        where = "aws " + " ".join(a for a in args[:2] if not a.startswith("-"))
        for flag, value in zip(args, args[1:]):
            if flag in SENSITIVE_FLAGS and not value.startswith(("file://", "fileb://")):
                self.add(value, f"{flag} of {where}")
        try:
            self.collect(json.loads(stdout), where)
        except ValueError:
            pass


SEEN = Seen()


def install_boto3_hook() -> None:
    """Collects from every boto3 call made in this process, parameters and answers."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call
    if getattr(original, "_kinko_scan", False):
        return

    def make_api_call(self, operation_name, api_params):
        where = f"{self.meta.service_model.service_name}.{operation_name}"
        SEEN.collect(api_params, where)
        answer = original(self, operation_name, api_params)
        SEEN.collect(answer, where)
        return answer

    make_api_call._kinko_scan = True  # type: ignore[attr-defined]
    BaseClient._make_api_call = make_api_call


def encodings(value: bytes) -> list[tuple[str, bytes]]:
    """The forms `value` could take in a record."""
    forms = [("raw", value)]
    try:
        text = value.decode()
        escaped = json.dumps(text)[1:-1].encode()
        if escaped != value:
            forms.append(("JSON-escaped", escaped))
    except UnicodeDecodeError:
        pass
    for alphabet, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
        # After `shift` other bytes, the encoding starts mid-group: skip the characters mixing in
        # the bytes before it and the last group (mixing in the bytes after it, or padding).
        for shift in range(3):
            encoded = encode(b"\0" * shift + value)
            skip = -(-shift * 8 // 6)
            forms.append((f"{alphabet}, offset {shift}", encoded[skip : len(encoded) - 4]))
    forms.append(("hex", value.hex().encode()))
    forms.append(("HEX", value.hex().upper().encode()))
    return forms


def find_leaks(log_files: Iterable[Path], seen: Seen = SEEN) -> list[str]:
    """What of `seen` the files hold, one line per finding."""
    text = b"".join(p.read_bytes() for p in log_files if p.is_file())
    leaks = []
    for value, what in seen.values.items():
        for form, needle in encodings(value):
            at = text.find(needle) if needle else -1
            if at >= 0:
                context = text[max(0, at - 120) : at + len(needle) + 40].decode(errors="replace")
                leaks.append(f"{what} {value[:40]!r} ({form}) in ...{context}...")
                break
    return leaks

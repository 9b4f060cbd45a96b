"""The scan of the audit log (audit_scan) finds a secret in each form a record could hold it."""

from __future__ import annotations

import base64
import json

from audit_scan import Seen, find_leaks


def test_the_scan_finds_each_encoding(tmp_path):
    seen = Seen()
    seen.collect({"SecretString": "hunter2-but-longer", "Name": "not-secret-name"}, "a call")
    seen.collect({"Plaintext": b"\x00\x01binary-key\xff"}, "a call")
    seen.collect_cli(["secretsmanager", "create-secret", "--secret-string", "cli-value-123"], "")
    seen.add("short", "a value too short to look for")
    seen.add("verified", "a plain word, as likely a word of a message")
    assert len(seen.values) == 3

    log = tmp_path / "audit.log"
    log.write_text('{"requestParameters": {"name": "not-secret-name"}}\n')
    assert find_leaks([log], seen) == []
    forms = {
        "raw": "hunter2-but-longer",
        "JSON": json.dumps({"v": 'cli-value-123"'})[7:-2],
        "base64 mid-value": base64.b64encode(b"xy" + b"\x00\x01binary-key\xff" + b"z").decode(),
        "hex": "hunter2-but-longer".encode().hex(),
    }
    for what, text in forms.items():
        log.write_text(f'{{"field": "{text}"}}\n')
        assert find_leaks([log], seen), what

"""HTTPS: the AWS CLI and boto3 against ``kinko server --tls-cert --tls-key``, trusting a CA of
the test's own through ``AWS_CA_BUNDLE`` (CLI and boto3) and ``verify=`` (boto3), and refusing
the server without it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kinko_compat import (
    ACCESS_KEY,
    LISTEN_TLS_RE,
    REGION,
    SECRET_KEY,
    SHUTDOWN_TIMEOUT,
    STARTUP_TIMEOUT,
    AwsCli,
    clean_env,
    kinko_bin,
    unique,
)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca_and_server_cert(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate it signs for 127.0.0.1 and localhost: (ca.pem, cert, key)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("kinko compat CA"))
        .issuer_name(_name("kinko compat CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = directory / "ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem = directory / "server.crt"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem = directory / "server.key"
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_pem.chmod(0o600)
    return ca_pem, cert_pem, key_pem


@dataclass
class TlsServer:
    endpoint: str
    ca_bundle: Path


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TlsServer]:
    workdir = Path(tempfile.mkdtemp(prefix="kinko-compat-tls-"))
    ca, cert, key = make_ca_and_server_cert(workdir)
    proc = subprocess.Popen(
        [
            str(kinko_bin()), "server", "--dev", "--listen", "127.0.0.1:0",
            "--tls-cert", str(cert), "--tls-key", str(key),
        ],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=clean_env({"HOME": str(workdir)}),
    )
    endpoint: list[str] = []
    found = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            m = LISTEN_TLS_RE.search(raw.decode(errors="replace"))
            if m and not endpoint:
                endpoint.append(m.group(1))
                found.set()
        found.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        found.wait(timeout=STARTUP_TIMEOUT)
        assert endpoint, f"kinko did not print its https:// listening line (exit {proc.poll()})"
        yield TlsServer(endpoint[0], ca)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=SHUTDOWN_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        reader.join(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)
    assert proc.returncode == 0, f"kinko exited with code {proc.returncode} after SIGTERM"


def test_aws_cli_with_aws_ca_bundle(tls_server: TlsServer, aws_config_dir: Path):
    assert tls_server.endpoint.startswith("https://127.0.0.1:")
    aws = AwsCli(tls_server.endpoint, aws_config_dir, {"AWS_CA_BUNDLE": str(tls_server.ca_bundle)})
    name = unique("tls-cli")
    aws("secretsmanager", "create-secret", "--name", name, "--secret-string", "over https")
    got = aws("secretsmanager", "get-secret-value", "--secret-id", name).json()
    assert got["SecretString"] == "over https"


def test_aws_cli_refuses_the_server_without_the_ca(tls_server: TlsServer, aws_config_dir: Path):
    aws = AwsCli(tls_server.endpoint, aws_config_dir)
    r = aws("secretsmanager", "list-secrets", check=False)
    assert r.returncode != 0, str(r)
    assert "SSL" in r.stderr or "certificate" in r.stderr, str(r)


def _client(endpoint: str, **kw):
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
    )
    return session.client(
        "secretsmanager",
        endpoint_url=endpoint,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5),
        **kw,
    )


def test_boto3_with_verify(tls_server: TlsServer):
    sm = _client(tls_server.endpoint, verify=str(tls_server.ca_bundle))
    name = unique("tls-boto3")
    sm.create_secret(Name=name, SecretString="verified")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "verified"


def test_boto3_with_aws_ca_bundle(tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tls_server.ca_bundle))
    sm = _client(tls_server.endpoint)
    sm.list_secrets()


def test_boto3_refuses_the_server_without_the_ca(tls_server: TlsServer):
    sm = _client(tls_server.endpoint)
    with pytest.raises(botocore.exceptions.SSLError):
        sm.list_secrets()

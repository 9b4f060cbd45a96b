"""Fixtures for the AWS compatibility suite.

One kinko server (``kinko server --dev``) is started for the whole session on
an ephemeral port; the tests talk to it through the real AWS CLI and boto3,
exactly as a user would with ``--endpoint-url``. tests/compat/run.sh runs the
files in parallel (pytest-xdist, a file's tests on one worker): each worker is
such a session, with a server of its own.

Environment:
    KINKO_BIN  path to the kinko binary (default: target/debug/kinko,
               relative to the repository root).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from audit_scan import SEEN, find_leaks, install_boto3_hook
from kinko_compat import (
    ACCESS_KEY,
    CONTAINER_RE,
    LISTEN_RE,
    OIDC_ISSUER,
    SECRET_KEY,
    SHUTDOWN_TIMEOUT,
    STARTUP_TIMEOUT,
    AwsCli,
    RawResponse,
    clean_env,
    kinko_bin,
    make_client,
    raw_call,
)

# ---------------------------------------------------------------------------
# Isolation from the developer's own AWS configuration
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def aws_config_dir() -> Iterator[Path]:
    """Empty config and credentials files so ~/.aws can never leak in."""
    d = Path(tempfile.mkdtemp(prefix="kinko-compat-aws-"))
    (d / "config").write_text("")
    (d / "credentials").write_text("")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _isolated_process_env(aws_config_dir: Path) -> Iterator[None]:
    """boto3 in this process reads the same empty files and no AWS_* variables."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.upper().startswith("AWS_"):
                mp.delenv(key)
        mp.setenv("AWS_CONFIG_FILE", str(aws_config_dir / "config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws_config_dir / "credentials"))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")
        mp.setenv("no_proxy", "127.0.0.1,localhost")
        yield


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------


@dataclass
class KinkoServer:
    endpoint: str
    port: int
    process: subprocess.Popen
    stderr_path: Path
    stdout_lines: list[str]
    # The key set (JWKS) file of OIDC_ISSUER, which the server reads at each use.
    oidc_jwks: Path | None = None
    # AWS_CONTAINER_CREDENTIALS_FULL_URI of the server's container credentials endpoint.
    container_credentials_url: str | None = None

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""


def _pump_stdout(proc: subprocess.Popen, lines: list[str], found: threading.Event) -> None:
    """Reads the server's stdout for its whole life so the pipe never fills."""
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        lines.append(line)
        if LISTEN_RE.search(line):
            found.set()
    found.set()  # EOF: wake the waiter, it checks the process state


# The files that take longest (CloudFormation's waiters, rotations, several servers), started first
# so that the parallel run does not end waiting on one of them alone.
SLOW_FIRST = (
    "test_cloudformation_updates_cli.py",
    "test_cloudformation_types_cli.py",
    "test_cloudformation_cli.py",
    "test_cloudformation_iam_user_cli.py",
    "test_rotation_cli.py",
    "test_several_nodes.py",
    "test_lambda_cli.py",
)


def pytest_collection_modifyitems(session, config, items) -> None:
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))


# The audit log scans of this process's servers (values looked for, bytes scanned); with
# pytest-xdist, the controller gathers those of its workers. Some worker's share of the files
# may handle no secret, but the run as a whole must have scanned something.
SCANS: list[dict[str, int]] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist, on the controller: a worker's audit log scans."""
    SCANS.extend(json.loads(getattr(node, "workeroutput", {}).get("audit_scans", "[]")))


def pytest_sessionfinish(session, exitstatus) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["audit_scans"] = json.dumps(SCANS)
        return
    if not SCANS:
        return  # no test started a server (e.g. one file that needs none)
    values = sum(s["values"] for s in SCANS)
    scanned = sum(s["bytes"] for s in SCANS)
    if values == 0 or scanned == 0:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"FAILED: the scan of the audit logs looked at nothing ({values} values, "
                f"{scanned} bytes, {len(SCANS)} servers)",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def kinko_server() -> Iterator[KinkoServer]:
    install_boto3_hook()
    binary = kinko_bin()
    if not binary.is_file():
        pytest.fail(
            f"kinko binary not found at {binary} (set KINKO_BIN or run `cargo build -p kinko-cli`)",
            pytrace=False,
        )
    workdir = Path(tempfile.mkdtemp(prefix="kinko-compat-srv-"))
    stderr_path = workdir / "server.stderr"
    stderr_file = open(stderr_path, "wb")
    oidc_jwks = workdir / "oidc-jwks.json"
    oidc_jwks.write_text('{"keys": []}')
    proc = subprocess.Popen(
        [
            str(binary),
            "server",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--oidc-jwks",
            f"{OIDC_ISSUER}={oidc_jwks}",
            # The server's own credentials endpoints (test_workload_endpoints.py); sessions short
            # enough that the SDKs refresh them on every call.
            "--imds-listen",
            "127.0.0.1",
            "--container-credentials-listen",
            "127.0.0.1:0",
            "--workload-session-seconds",
            "60",
            # The trail CloudTrail's LookupEvents reads (--dev keeps none unless told).
            "--audit-log",
            str(workdir / "audit.log"),
        ],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        env=clean_env({"HOME": str(workdir)}),
    )
    lines: list[str] = []
    found = threading.Event()
    pump = threading.Thread(target=_pump_stdout, args=(proc, lines, found), daemon=True)
    pump.start()

    def fail_startup(reason: str) -> None:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        pump.join(timeout=5)
        stderr_file.close()
        text = stderr_path.read_text(errors="replace")
        out = "\n".join(lines)
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.fail(
            f"{reason}\n--- kinko stdout ---\n{out}\n--- kinko stderr ---\n{text}",
            pytrace=False,
        )

    deadline = time.monotonic() + STARTUP_TIMEOUT
    match = None
    while time.monotonic() < deadline:
        found.wait(timeout=0.1)
        match = next((m for m in map(LISTEN_RE.search, list(lines)) if m), None)
        if match or proc.poll() is not None:
            break
    if not match:
        if proc.poll() is not None:
            fail_startup(f"kinko exited with code {proc.returncode} before listening")
        fail_startup(f"kinko did not print the listening line within {STARTUP_TIMEOUT:.0f}s")
    assert match is not None

    endpoint, port = match.group(1), int(match.group(2))
    container = next((m.group(1) for m in map(CONTAINER_RE.search, list(lines)) if m), None)
    server = KinkoServer(endpoint, port, proc, stderr_path, lines, oidc_jwks, container)
    try:
        yield server
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=SHUTDOWN_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
                stderr_file.close()
                text = stderr_path.read_text(errors="replace")
                shutil.rmtree(workdir, ignore_errors=True)
                pytest.fail(
                    f"kinko did not exit within {SHUTDOWN_TIMEOUT:.0f}s of SIGTERM\n"
                    f"--- kinko stderr ---\n{text}",
                    pytrace=False,
                )
        pump.join(timeout=5)
        stderr_file.close()
        text = stderr_path.read_text(errors="replace")
        # No record of the whole run holds a secret it handled (see audit_scan).
        logs = sorted(workdir.glob("audit*.log*"))
        leaks = find_leaks(logs)
        recorded = sum(p.stat().st_size for p in logs if p.is_file())
        shutil.rmtree(workdir, ignore_errors=True)
        SCANS.append({"values": len(SEEN.values), "bytes": recorded})
        assert not leaks, (
            f"the audit log holds secrets the run handled: {leaks[:20]}"
            f" ({len(leaks)} of {len(SEEN.values)} values looked for)"
        )
        assert proc.returncode == 0, (
            f"kinko exited with code {proc.returncode} after SIGTERM (expected a clean 0)\n"
            f"--- kinko stderr ---\n{text}"
        )


@pytest.fixture(scope="session")
def endpoint(kinko_server: KinkoServer) -> str:
    return kinko_server.endpoint


# ---------------------------------------------------------------------------
# boto3
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sm(endpoint: str):
    """boto3 Secrets Manager client for the dev root credentials."""
    return make_client(endpoint)


@pytest.fixture(scope="session")
def client_factory(endpoint: str) -> Callable[..., object]:
    return lambda access_key=ACCESS_KEY, secret_key=SECRET_KEY: make_client(
        endpoint, access_key, secret_key
    )


@pytest.fixture(scope="session")
def aws(endpoint: str, aws_config_dir: Path) -> AwsCli:
    return AwsCli(endpoint, aws_config_dir)


@pytest.fixture(scope="session")
def raw(endpoint: str) -> Callable[..., RawResponse]:
    return lambda operation, payload=None, **kw: raw_call(endpoint, operation, payload, **kw)


# ---------------------------------------------------------------------------
# IAM, STS, Organizations (boto3)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def boto(endpoint: str) -> Callable[..., object]:
    """``boto(service, creds=ROOT_CREDS)``: a boto3 client for any service and credentials."""
    from kinko_compat import ROOT_CREDS, make_service_client

    return lambda service, creds=ROOT_CREDS: make_service_client(endpoint, service, creds)


@pytest.fixture(scope="session")
def iam(boto):
    """boto3 IAM client for the dev root credentials."""
    return boto("iam")


@pytest.fixture(scope="session")
def sts(boto):
    """boto3 STS client for the dev root credentials."""
    return boto("sts")


@pytest.fixture(scope="session")
def org(boto):
    """boto3 Organizations client for the dev root credentials."""
    return boto("organizations")

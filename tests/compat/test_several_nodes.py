"""The README's worked example "Two nodes on one database", run as written.

The commands between the README's ``<!-- several-nodes-example -->`` markers are run by bash,
unchanged (they make their own test CA and serve HTTPS) but for what a shared test machine needs:
the database URL becomes a scratch schema of
KINKO_TEST_POSTGRES_URL (skipped when it is unset), the ports 8781 and 8782 become free ones, and
``kinko`` is KINKO_BIN. What the commands print must be what the README says they print, so the
example cannot rot.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from kinko_compat import REPO_ROOT, clean_env, kinko_bin

BEGIN = "<!-- several-nodes-example -->"
END = "<!-- /several-nodes-example -->"
# As written in the README.
EXAMPLE_DB = "postgres://kinko:change-me@127.0.0.1:5432/kinko"
EXAMPLE_PORTS = ("8781", "8782")
# What the example's commands print, in order (the README shows each as a comment).
EXPECTED = [
    "db-password",
    "hunter2",
    "AWSCURRENT",
    "correct-horse-battery-staple",
    "node 1 is down",
    "correct-horse-battery-staple",
]
TIMEOUT = 180


def example_script() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index(BEGIN) + len(BEGIN)
    section = readme[start : readme.index(END, start)]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert blocks, "no ```sh block between the README's several-nodes-example markers"
    return "\n".join(blocks)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drop_schema(url: str, schema: str) -> None:
    """Best effort: the Rust tests' scratch-schema sweep drops what is left after 3 hours."""
    if shutil.which("psql"):
        subprocess.run(
            ["psql", url, "-qc", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )


def test_the_readme_two_node_example_runs_as_written():
    url = os.environ.get("KINKO_TEST_POSTGRES_URL", "")
    if not url:
        pytest.skip("KINKO_TEST_POSTGRES_URL is not set: the two-node example needs PostgreSQL")
    binary = kinko_bin()
    assert binary.is_file() and binary.name == "kinko", f"kinko binary not found at {binary}"

    # Named like the Rust harness's scratch schemas (kinko_test_<unix seconds>_...), so that its
    # sweep drops this one too if the run is killed before it does.
    schema = f"kinko_test_{int(time.time())}_{os.getpid()}_0_example"
    sep = "&" if "?" in url else "?"
    script = example_script()
    for old in (EXAMPLE_DB, *EXAMPLE_PORTS):
        assert old in script, f"the README's example no longer uses {old}"
    script = script.replace(EXAMPLE_DB, f"{url}{sep}schema={schema}&pool_size=4")
    for port in EXAMPLE_PORTS:
        script = script.replace(port, str(free_port()))

    workdir = Path(tempfile.mkdtemp(prefix="kinko-compat-nodes-"))
    (workdir / "aws-config").write_text("")
    env = clean_env(
        {
            "HOME": str(workdir),
            "PATH": f"{binary.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AWS_CONFIG_FILE": str(workdir / "aws-config"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    # A session of its own: whatever the script leaves running is stopped with it.
    proc = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(
            f"the example did not finish within {TIMEOUT} s\n--- stdout ---\n{out.decode()}"
            f"\n--- stderr ---\n{err.decode()}"
        )
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        drop_schema(url, schema)
        shutil.rmtree(workdir, ignore_errors=True)

    text, errors = out.decode(), err.decode()
    assert proc.returncode == 0, f"exit {proc.returncode}\n--- stdout ---\n{text}\n--- stderr ---\n{errors}"
    printed = [
        line
        for line in text.splitlines()
        # The servers' own lines (the first node prints the root credentials once).
        if not line.startswith(("kinko ", "  AWS_"))
    ]
    assert printed == EXPECTED, f"--- stdout ---\n{text}\n--- stderr ---\n{errors}"

#!/usr/bin/env bash
# Installs what the test suite needs and a fresh machine lacks. Idempotent and quick when nothing
# changed: each step is skipped while its pinned inputs are unchanged.
#
#   - rustfmt and clippy for the toolchain in use;
#   - curl and openssl (Debian packages), when missing;
#   - a Python virtual environment in target/tools/venv with the pinned clients of
#     tests/compat/requirements.txt (AWS CLI, boto3, pytest);
#   - the pinned AWS SDK for JavaScript v3 packages of tests/node (npm ci, from its
#     package-lock.json), which tests/compat runs as Node programs;
#   - the AWS SDKs of the function runtimes (crates/kinko-functions/sdk);
#   - the database drivers of AWS's rotation functions (crates/kinko-tests/rotation-deps), with
#     gcc, libpq-dev and the Python headers (Debian packages) that PyGreSQL builds with.
#
# scripts/test.sh sources it; `scripts/setup.sh` alone prepares a machine without running tests.
# After it, target/tools/venv/bin is first on PATH for the caller that sourced it.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$repo_root/target/tools"
mkdir -p "$tools"

# A stamp per step: the step runs again only when the hash of its inputs changes.
stamp_ok() { [[ -f "$tools/$1.stamp" && "$(cat "$tools/$1.stamp")" == "$2" ]]; }
stamp_set() { printf '%s' "$2" >"$tools/$1.stamp"; }

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  echo "== setup: rustfmt and clippy"
  rustup component add rustfmt clippy
fi

# curl and openssl: tests/compat/test_several_nodes.py runs the README's worked example, which uses them.
missing=()
for tool in curl openssl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
# PyGreSQL, the PostgreSQL driver of AWS's rotation functions, is a C extension built against libpq.
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
if ! command -v pg_config >/dev/null 2>&1 || [[ ! -f "$(pg_config --includedir)/libpq-fe.h" ]]; then
  missing+=(libpq-dev)
fi
# The console's browser tests: Debian's Chromium and the ChromeDriver of the same version.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
# valgrind: `kinko-bench instructions` counts instructions per request with callgrind (CI's guard).
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
# A Japanese font, so that the console's Japanese pages render in the tests' screenshots.
[[ -d /usr/share/fonts/opentype/ipafont-gothic ]] || missing+=(fonts-ipafont-gothic)
# AssumeRoleWithSAML verifies XML signatures with xmlsec (the `samael` crate): its headers, libxml2's,
# OpenSSL's, pkg-config to find them and libclang for the bindings samael generates at build time.
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists xmlsec1 2>/dev/null || missing+=(libxmlsec1-dev)
pkg-config --exists libxml-2.0 2>/dev/null || missing+=(libxml2-dev)
pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev)
compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null || missing+=(libclang-dev)
py_include="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
[[ -f "$py_include/Python.h" ]] || missing+=(python3-dev)
if ((${#missing[@]})); then
  echo "== setup: ${missing[*]} (Debian packages)"
  sudo=""
  [[ "$(id -u)" -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

req="$repo_root/tests/compat/requirements.txt"
venv="$tools/venv"
# The venv's scripts name its absolute path: a target dir moved elsewhere needs a new venv.
py_hash="$(cat "$req" | sha256sum | cut -d' ' -f1)-$(python3 --version 2>&1)-$venv"
if ! stamp_ok python "$py_hash" || [[ ! -x "$venv/bin/python" ]]; then
  echo "== setup: Python clients (tests/compat/requirements.txt) into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  stamp_set python "$py_hash"
fi
export PATH="$venv/bin:$PATH"

node_dir="$repo_root/tests/node"
node_hash="$(cat "$node_dir/package-lock.json" | sha256sum | cut -d' ' -f1)-$(node --version 2>&1)"
if ! stamp_ok node "$node_hash" || [[ ! -d "$node_dir/node_modules" ]]; then
  echo "== setup: AWS SDK for JavaScript v3 (tests/node/package-lock.json)"
  (cd "$node_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  stamp_set node "$node_hash"
fi

# The AWS SDKs of the function runtimes, installed once here: nothing is fetched when a function runs.
sdk_src="$repo_root/crates/kinko-functions/sdk"
sdks="$tools/function-sdks"
sdk_hash="$(cat "$sdk_src/python/requirements.txt" "$sdk_src"/nodejs-v*/package-lock.json | sha256sum | cut -d' ' -f1)-$(node --version 2>&1)-$sdks"
if ! stamp_ok function-sdks "$sdk_hash" || [[ ! -d "$sdks/python" ]]; then
  echo "== setup: AWS SDKs for functions (crates/kinko-functions/sdk) into $sdks"
  rm -rf "$sdks.new"
  mkdir -p "$sdks.new"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --target "$sdks.new/python" -r "$sdk_src/python/requirements.txt"
  for v in nodejs-v2 nodejs-v3; do
    mkdir -p "$sdks.new/$v"
    cp "$sdk_src/$v/package.json" "$sdk_src/$v/package-lock.json" "$sdks.new/$v/"
    (cd "$sdks.new/$v" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  done
  rm -rf "$sdks"
  mv "$sdks.new" "$sdks"
  stamp_set function-sdks "$sdk_hash"
fi

# The database drivers of AWS's rotation functions, which the tests zip with each function's
# lambda_function.py as AWS users bundle them. PyGreSQL's extension is built here, for this
# machine's python3 (the interpreter functions run on) and libpq.
rot_req="$repo_root/crates/kinko-tests/rotation-deps/requirements.txt"
rot_deps="$tools/rotation-deps"
rot_hash="$(cat "$rot_req" | sha256sum | cut -d' ' -f1)-$(python3 --version 2>&1)-$(pg_config --version 2>&1)"
if ! stamp_ok rotation-deps "$rot_hash" || [[ ! -d "$rot_deps/python" ]]; then
  echo "== setup: database drivers of the rotation functions (crates/kinko-tests/rotation-deps) into $rot_deps"
  rm -rf "$rot_deps.new"
  mkdir -p "$rot_deps.new"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
    --no-compile --target "$rot_deps.new/python" -r "$rot_req"
  python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import pymysql, pg, pgdb' "$rot_deps.new/python"
  rm -rf "$rot_deps"
  mv "$rot_deps.new" "$rot_deps"
  stamp_set rotation-deps "$rot_hash"
fi

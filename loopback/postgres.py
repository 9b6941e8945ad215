"""A throwaway PostgreSQL server on loopback, from Debian's postgresql package."""

import glob
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from loopback.emulators import free_port


def _as_postgres(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_server():
    """Yields (host, port); database `dagster` owned by user `mta` (password `mta`). None if not installed."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        yield None
        return
    bin_dir = Path(binaries[-1]).parent
    data = Path(tempfile.mkdtemp(prefix="mta-postgres-", dir="/tmp"))
    os.chmod(data, 0o755)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "postgres"]), check=True, capture_output=True)
    subprocess.run(
        _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-l", str(data / "log"), "-w", "-o",
                      f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"]),
        check=True,
        capture_output=True,
    )
    try:
        psql = [str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
        subprocess.run([*psql, "-c", "CREATE USER mta PASSWORD 'mta'"], check=True, capture_output=True)
        subprocess.run([*psql, "-c", "CREATE DATABASE dagster OWNER mta"], check=True, capture_output=True)
        yield "127.0.0.1", port
    finally:
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(data, ignore_errors=True)

"""Starts bqemulator offline, in the foreground: python -m loopback.bqemulator_launcher PORT ROOT.

ROOT is where gs://bucket/object resolves for load jobs; the GCS emulator's filesystem backend keeps its
objects in the same layout, so BigQuery load jobs from the GCS lake work between the two emulators.
"""

import asyncio
import signal
import sys

from bqemulator.config import LogLevel, PersistenceMode, Settings
from bqemulator.server import EmulatorServer
from bqemulator.storage.engine import DuckDBEngine

# The spatial extension would be downloaded at start; nothing here needs it and the machine is offline.
DuckDBEngine._load_spatial = lambda self: None


def main(port: int, gcs_root: str) -> None:
    settings = Settings(
        rest_host="127.0.0.1",
        rest_port=port,
        grpc_host="127.0.0.1",
        grpc_port=0,  # the default 9060 would collide between emulators
        default_project_id="mta-test",
        persistence_mode=PersistenceMode.EPHEMERAL,
        enable_format_extensions=False,  # skips a network INSTALL of the avro extension
        log_level=LogLevel("warning"),
        gcs_local_root=gcs_root,
    )
    server = EmulatorServer(settings)

    async def run() -> None:
        await server.start()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            await server.stop()

    asyncio.run(run())


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])

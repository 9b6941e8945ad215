"""How fast loopback.generated_hourly serves: one 50,000-row page, a whole week by pages, a year's totals.

The server runs as the benchmarks run it, a process of its own; pages are read one after another, as one
client reads them.

    python -m benchmarks.generated_hourly_speed
"""

import statistics
import subprocess
import sys
import time
from urllib.parse import quote, urlencode
from urllib.request import urlopen

from loopback.generated_hourly import GeneratedHourlyServer

DATASET = "wujg-7c2s"
WEEK = "transit_timestamp >= '2023-05-27T00:00:00' AND transit_timestamp < '2023-06-03T00:00:00'"
YEAR = "transit_timestamp >= '2023-01-01T00:00:00' AND transit_timestamp < '2024-01-01T00:00:00'"
PAGE = 50_000


def fetch(url: str, params: dict[str, str]) -> tuple[float, bytes]:
    """Seconds to read the whole answer, and the answer."""
    started = time.perf_counter()
    with urlopen(f"{url}/resource/{DATASET}.csv?{urlencode(params, quote_via=quote, safe='$:()*')}") as response:
        body = response.read()
    return time.perf_counter() - started, body


def main() -> None:
    page = {"$where": WEEK, "$order": ":id", "$limit": str(PAGE), "$offset": "300000"}
    generating = [_seconds(lambda: GeneratedHourlyServer().answer(f"/resource/{DATASET}.csv", page)) for _ in range(5)]
    print(f"one page, generated in process: {statistics.median(generating):.3f} s (median of 5)")

    command = [sys.executable, "-m", "loopback.generated_hourly", "--port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        serving = [fetch(url, page) for _ in range(5)]
        print(f"one page over HTTP: {statistics.median(s for s, _ in serving):.3f} s, {len(serving[0][1]) / 1e6:.1f} MB (median of 5)")

        started, rows, pages, size = time.perf_counter(), 0, 0, 0
        while True:
            _, body = fetch(url, {**page, "$offset": str(rows)})
            pages, size, page_rows = pages + 1, size + len(body), body.count(b"\n") - 1
            rows += page_rows
            if page_rows < PAGE:
                break
        print(f"a week: {rows:,} rows in {pages} pages, {size / 1e6:.0f} MB, {time.perf_counter() - started:.2f} s")

        seconds, body = fetch(url, {"$select": "count(*) AS rows, sum(ridership) AS ridership, sum(transfers) AS transfers", "$where": YEAR})
        print(f"a year's totals: {seconds:.3f} s, {body.decode().splitlines()[1]}")
        seconds, _ = fetch(url, {"$select": "date_trunc_ymd(transit_timestamp) AS day, count(*) AS rows, sum(ridership) AS ridership, "
                                            "sum(transfers) AS transfers, max(:updated_at) AS updated_at",
                                 "$where": YEAR, "$group": "day", "$order": "day", "$limit": "50000"})  # fmt: skip
        print(f"a year's daily totals: {seconds:.3f} s")
    finally:
        server.terminate()
        server.wait(timeout=10)


def _seconds(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()

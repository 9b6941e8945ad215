"""The Dagster UI in headless Chromium, as a user meets it: lineage, partitions, a three-week backfill.

Screenshots are kept in test-artifacts/browser/ at the repository's root.
"""

import shutil
import time
from datetime import date
from pathlib import Path

import pytest

from mta_assets.partitions import weekly_partitions
from mta_assets.warehouse import DuckDBWarehouse
from loopback.dagster_dev import dagster_dev, materialized_count
from loopback.turnstile_files import week_file

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
WEEKS = [date(2023, 5, 20), date(2023, 5, 27), date(2023, 6, 3)]
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def wait_for(condition, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def test_a_user_sees_the_lineage_and_backfills_three_weeks_from_the_ui(browser, mirror, tmp_path):
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    files = {week: week_file(week, turnstile_count=20) for week in WEEKS}
    for week, data in files.items():
        mirror.files[f"turnstile_{week:%y%m%d}.txt"] = data

    with dagster_dev(tmp_path, {"MTA_SOURCE_URL": mirror.url}) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/assets/turnstile_lake?view=lineage&lineageDepth=5")
        page.get_by_role("button", name="Skip").click()  # the community dialog on first load
        for asset in ("mta_turnstile_file", "turnstile_lake", "stations", "system_ridership"):
            page.get_by_text(asset, exact=True).first.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "1-lineage.png"))
        # Both eras' sources, through lake and warehouse, to the unified table. The graph shortens long
        # names (open_da…_5wq4_mkjj), so the three datasets are found by their ids.
        page.goto(f"{url}/assets/daily_ridership?view=lineage&lineageDepth=6")
        for name in ("mta_turnstile_file", "turnstile_lake", "5wq4_mkjj", "t69i_h2me", "wujg_7c2s", "daily_ridership"):
            page.get_by_text(name).first.wait_for(timeout=30_000)
        for group in ("lake", "warehouse", "hourly_ridership", "ridership"):
            page.get_by_text(group, exact=True).first.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "1-unified-lineage.png"))

        page.goto(f"{url}/assets/turnstile_lake?view=partitions")
        # As many as the partitions definition has today (a new one every Saturday), never a fixed count.
        page.get_by_text(f"{len(weekly_partitions.get_partition_keys())} Partitions Selected").wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "2-partitions.png"))

        page.get_by_role("button", name="Materialize…").first.click()
        dialog = page.get_by_role("dialog")
        # The dialog offers every week of a partitions definition with an end (the feed's last week) at
        # once; one without an end first shows the recent weeks, behind "Show all partitions".
        dialog.get_by_text("Partition selection").wait_for(timeout=30_000)
        if dialog.get_by_text("Show all partitions").count():
            dialog.get_by_text("Show all partitions").click()
        weeks = dialog.locator("input[type=text]").first
        weeks.fill(f"[{WEEKS[0]}...{WEEKS[-1]}]")
        weeks.press("Enter")
        dialog.get_by_text("3 partitions").wait_for(timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / "3-backfill-dialog.png"))
        dialog.get_by_role("button", name="Launch backfill").click()

        wait_for(lambda: materialized_count(url, "turnstile_lake") == 3, "three lake weeks", 180)
        # The warehouse follows the lake through its automation condition, with no further click.
        wait_for(lambda: materialized_count(url, "turnstile_warehouse") == 3, "three warehouse weeks", 240)

        page.goto(f"{url}/assets/turnstile_lake?view=partitions")
        selection = page.locator("input[type=text]").first
        selection.fill(f"[{WEEKS[0]}...{WEEKS[-1]}]")
        selection.press("Enter")
        page.get_by_text("Materialized (3)").wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "4-three-weeks-materialized.png"))

        warehouse = DuckDBWarehouse(path=str(tmp_path / "data" / "warehouse.duckdb"))
        for week, data in files.items():
            assert warehouse.week_row_counts([week])[week] == data.count(b"\n") - 1

"""Everything a test's code wrote to logs and to the terminal, for tests that no secret appears in any of it."""

import logging

import pytest
from dagster import get_dagster_logger


@pytest.fixture
def every_log(caplog):
    """Every record at DEBUG, from the root logger and Dagster's own (which does not propagate to the root)."""
    caplog.set_level(logging.DEBUG)
    dagster_logger = logging.getLogger("dagster")
    dagster_logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG, logger=get_dagster_logger().name)  # restored after the test
    yield caplog
    dagster_logger.removeHandler(caplog.handler)


def all_output(every_log, capsys) -> str:
    captured = capsys.readouterr()
    records = "\n".join(f"{record.getMessage()} {record.args} {record.exc_text}" for record in every_log.records)
    return "\n".join([every_log.text, records, captured.out, captured.err])

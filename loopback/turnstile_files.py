"""Generated MTA turnstile files that look like the real ones (see shared/mta-turnstile-format.md).

Modern lines are right-padded to 130 characters, the header carries 63 trailing spaces, readings follow
a 4-hour grid with irregular times mixed in, RECOVR AUD lines repeat a reading, and counters reset, run
backwards and jump by millions. Legacy files carry the same kind of readings, up to 8 a line, for booths
and units of the MTA's Remote-Booth-Station key and a few it does not know.
"""

import random
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from mta_assets.turnstile.station_key import station_key

HEADER = "C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS" + " " * 63
LINE_WIDTH = 130
_STATION_NAMES = ["59 ST", "23 ST", "14 ST-UNION SQ", "TIMES SQ-42 ST", "34 ST-PENN STA", "FULTON ST", "125 ST", "86 ST"]
_LINES = ["NQR456W", "1", "FM", "ACE", "6", "LNQR456W", "2345ACJZ", "BD"]
_DIVISIONS = ["BMT", "IRT", "IND", "PTH", "SRT", "RIT"]
# Legacy files' readings other than REGULAR: recovered audits, door and log-on events.
_LEGACY_EVENTS = ["RECOVR AUD", "DOOR OPEN", "DOOR CLOSE", "LOGON", "LOGOFF", "LGF-MAN"]
LEGACY_GROUPS_PER_LINE = 8
_TURNSTILES_PER_BOOTH = 13


@dataclass(frozen=True)
class Turnstile:
    control_area: str
    unit: str
    scp: str
    station: str
    line_name: str
    division: str


def turnstiles(count: int, seed: int = 0) -> list[Turnstile]:
    """About 13 turnstiles a station, several stations sharing a name (23 ST) under different units."""
    rng = random.Random(seed)
    result = []
    for index in range(count):
        station = index // 13
        result.append(
            Turnstile(
                control_area=f"{'ABNR'[station % 4]}{station % 1000:03d}",
                unit=f"R{station:03d}",
                scp=f"{index % 13 // 4:02d}-00-{index % 4:02d}",
                station=_STATION_NAMES[station % len(_STATION_NAMES)],
                line_name=_LINES[(station // len(_STATION_NAMES)) % len(_LINES)],
                division=_DIVISIONS[station % len(_DIVISIONS)] if rng.random() < 0.9 else "IND",
            )
        )
    return result


def line(turnstile: Turnstile, at: datetime, description: str, entries: int, exits: int) -> str:
    text = (
        f"{turnstile.control_area},{turnstile.unit},{turnstile.scp},{turnstile.station},{turnstile.line_name},"
        f"{turnstile.division},{at:%m/%d/%Y},{at:%H:%M:%S},{description},{entries:010d},{exits:010d}"
    )
    return text.ljust(LINE_WIDTH)


@dataclass(frozen=True)
class Reading:
    turnstile: Turnstile
    at: datetime
    description: str
    entries: int
    exits: int


def week_readings(week: date, turnstile_list: list[Turnstile], seed: int = 0) -> list[Reading]:
    """The readings of the file dated `week`, turnstile by turnstile: from the Saturday before to Friday."""
    rng = random.Random(seed * 100_003 + week.toordinal())
    start = datetime.combine(week - timedelta(days=7), datetime.min.time())
    readings = []
    for number, turnstile in enumerate(turnstile_list):
        entries = rng.randrange(1_000, 9_000_000)
        exits = rng.randrange(1_000, 9_000_000)
        at = start + timedelta(hours=number % 4)
        while at < start + timedelta(days=7):
            readings.append(Reading(turnstile, at, "REGULAR", entries, exits))
            if rng.random() < 0.02:  # a recovered audit repeats the reading
                readings.append(Reading(turnstile, at, "RECOVR AUD", entries, exits))
            roll = rng.random()
            if roll < 0.003:  # counter reset
                entries, exits = rng.randrange(0, 100), rng.randrange(0, 100)
            elif roll < 0.006:  # counter runs backwards
                entries, exits = max(0, entries - rng.randrange(1, 500)), max(0, exits - rng.randrange(1, 500))
            elif roll < 0.008:  # a jump of millions
                entries += rng.randrange(1_000_000, 50_000_000)
            else:
                entries += rng.randrange(0, 400)
                exits += rng.randrange(0, 300)
            if rng.random() < 0.15:  # irregular times, often under an hour apart
                at += timedelta(minutes=rng.randrange(7, 59), seconds=rng.randrange(0, 60))
            else:
                at = at.replace(minute=0, second=0) + timedelta(hours=4)
    return readings


def week_lines(week: date, turnstile_count: int = 60, seed: int = 0) -> list[str]:
    """Data lines (no header) of the file dated `week`: readings from the Saturday before to Friday."""
    return [
        line(reading.turnstile, reading.at, reading.description, reading.entries, reading.exits)
        for reading in week_readings(week, turnstiles(turnstile_count, seed), seed)
    ]


def legacy_turnstiles(count: int, seed: int = 0) -> list[Turnstile]:
    """Turnstiles of booths and units from the key, with its names; one booth in 20 is one the key does not
    know (no names), as in real legacy files."""
    rng = random.Random(seed)
    key = station_key().to_pylist()
    booths = rng.sample(key, min(len(key), count // _TURNSTILES_PER_BOOTH + 1))
    result = []
    for index in range(count):
        number = index // _TURNSTILES_PER_BOOTH
        booth = booths[number % len(booths)]
        if number % 20 == 7:
            booth = dict.fromkeys(("station", "line_name", "division"), "")
            booth.update(control_area=f"Z{number:03d}", unit=f"R9{number % 100:02d}")
        result.append(
            Turnstile(
                control_area=booth["control_area"],
                unit=booth["unit"],
                scp=f"{index % _TURNSTILES_PER_BOOTH // 4:02d}-00-{index % 4:02d}",
                station=booth["station"],
                line_name=booth["line_name"],
                division=booth["division"],
            )
        )
    return result


def legacy_lines(readings: list[Reading]) -> list[str]:
    """The readings in the legacy layout: each turnstile's readings, in order, up to 8 a line."""
    lines = []
    at = 0
    while at < len(readings):
        turnstile = readings[at].turnstile
        groups = []
        while at < len(readings) and readings[at].turnstile == turnstile and len(groups) < LEGACY_GROUPS_PER_LINE:
            reading = readings[at]
            groups.append(
                f"{reading.at:%m-%d-%y},{reading.at:%H:%M:%S},{reading.description},{reading.entries:09d},{reading.exits:09d}"
            )
            at += 1
        lines.append(",".join([turnstile.control_area, turnstile.unit, turnstile.scp, *groups]))
    return lines


def legacy_week_readings(week: date, turnstile_count: int = 60, seed: int = 0) -> list[Reading]:
    """A legacy-era week's readings: as week_readings, its repeated readings door, log-on and audit events."""
    rng = random.Random(seed)
    return [
        reading if reading.description == "REGULAR" else replace(reading, description=rng.choice(_LEGACY_EVENTS))
        for reading in week_readings(week, legacy_turnstiles(turnstile_count, seed), seed)
    ]


def legacy_week_file(week: date, turnstile_count: int = 60, seed: int = 0, crlf: bool = False) -> bytes:
    """A whole legacy-layout file (no header), LF or CRLF, newline-terminated."""
    newline = "\r\n" if crlf else "\n"
    return (newline.join(legacy_lines(legacy_week_readings(week, turnstile_count, seed))) + newline).encode("ascii")


def week_file(week: date, turnstile_count: int = 60, seed: int = 0, crlf: bool = False) -> bytes:
    """A whole file: padded header and lines, LF or CRLF, newline-terminated."""
    newline = "\r\n" if crlf else "\n"
    return (newline.join([HEADER, *week_lines(week, turnstile_count, seed)]) + newline).encode("ascii")


class MovableWeek:
    """A generated week's file (dated `template_week`) whose readings' dates move to any other week.

    Where each of its seven dates is written is found once; a move writes the week's dates there in a copy
    (about 35 ms for 33 MB, where seven `bytes.replace` passes took 250 ms). `date_format` is how the file
    writes a date: the modern layout's, or the legacy layout's "%m-%d-%y".
    """

    def __init__(self, template: bytes, template_week: date, date_format: str = "%m/%d/%Y") -> None:
        self.template = np.frombuffer(template, np.uint8)
        self.date_format = date_format
        width = len(self._date(template_week, 1))
        # The offsets of every byte of each day's dates, by days before the week's Saturday (7 to 1).
        self.offsets = {}
        for day in range(7, 0, -1):
            starts = [match.start() for match in re.finditer(re.escape(self._date(template_week, day)), template)]
            self.offsets[day] = np.array(starts, np.int64)[:, None] + np.arange(width)

    def _date(self, week: date, day: int) -> bytes:
        return f"{week - timedelta(days=day):{self.date_format}}".encode()

    def __len__(self) -> int:
        return len(self.template)

    def moved_to(self, week: date) -> bytes:
        data = self.template.copy()
        for day, offsets in self.offsets.items():
            data[offsets] = np.frombuffer(self._date(week, day), np.uint8)
        return data.tobytes()


def write_weeks(folder: Path, weeks: list[date], turnstiles: int) -> int:
    """Files for `weeks` in `folder`: one generated week with its dates moved to each week (generating is
    slower than the pipeline it feeds). Returns the lines per file."""
    template_week = weeks[-1]
    template = week_file(template_week, turnstiles, crlf=True)
    movable = MovableWeek(template, template_week)
    for week in weeks:
        (folder / f"turnstile_{week:%y%m%d}.txt").write_bytes(movable.moved_to(week))
    return template.count(b"\n") - 1

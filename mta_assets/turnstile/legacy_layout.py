"""The legacy layout (2010-05 to 2014-10): no header; C/A, UNIT, SCP, then 1 to 8 readings a line.

A reading is a group of DATE (MM-DD-YY), TIME, DESC, ENTRIES and EXITS (9 digits each), so a line has
3 + 5k fields. A batch of lines becomes readings without a Python loop per reading: the lines are split
on commas into lists, and each group's fields are taken from the flattened lists at offsets computed
with numpy. The readings come out as the modern layout's text fields, so that both layouts are checked
and typed by the same rules (parsing.py).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

KEY_FIELDS = ("CA", "UNIT", "SCP")
GROUP_FIELDS = ("DATE", "TIME", "DESC", "ENTRIES", "EXITS")
MAX_GROUPS = 8
_DATE = r"^(\d{2})-(\d{2})-(\d{2})$"
# Exactly 9 digits: a line cut inside its last counter must not pass with a smaller count.
_COUNTER = r"^\d{9}$"
# The fields of the modern layout that legacy files do not have: filled from the station key.
_NAMES = ("STATION", "LINENAME", "DIVISION")


def is_legacy_line(fields: Sequence[str]) -> bool:
    """Whether a line's fields are the legacy layout's: the keys, then a group whose date is MM-DD-YY."""
    return len(fields) >= len(KEY_FIELDS) + len(GROUP_FIELDS) and re.match(_DATE, fields[len(KEY_FIELDS)]) is not None


@dataclass(frozen=True)
class LegacyReadings:
    """The readings of a batch of legacy lines, one row per group.

    `fields`: the modern layout's fields by its header's names (C/A as CA), as text; DATE rewritten as
    MM/DD/20YY, and a date or counter of the wrong shape null. STATION, LINENAME and DIVISION are empty.
    `line_of_reading`: the index in the batch of each reading's line. `well_formed`: per line, whether it
    has 3 + 5k fields with k from 1 to 8 (the others have no readings).
    """

    fields: dict[str, pa.Array]
    line_of_reading: np.ndarray
    well_formed: np.ndarray


def legacy_readings(lines: pa.Array) -> LegacyReadings:
    """Split `lines` (text without line endings) into their readings."""
    parts = pc.split_pattern(lines, ",")
    field_counts = pc.list_value_length(parts).to_numpy(zero_copy_only=False).astype(np.int64)
    groups, leftover = np.divmod(field_counts - len(KEY_FIELDS), len(GROUP_FIELDS))
    well_formed = (leftover == 0) & (groups >= 1) & (groups <= MAX_GROUPS)
    groups = np.where(well_formed, groups, 0)

    values = parts.flatten()
    offsets = parts.offsets.to_numpy().astype(np.int64)
    line_starts = offsets[:-1] - offsets[0]
    line_of_reading = np.repeat(np.arange(len(lines)), groups)
    group_in_line = np.arange(len(line_of_reading)) - np.repeat(np.cumsum(groups) - groups, groups)
    key_at = line_starts[line_of_reading]
    group_at = key_at + len(KEY_FIELDS) + len(GROUP_FIELDS) * group_in_line

    fields = {name: pc.ascii_trim_whitespace(values.take(key_at + index)) for index, name in enumerate(KEY_FIELDS)}
    fields.update(
        {name: pc.ascii_trim_whitespace(values.take(group_at + index)) for index, name in enumerate(GROUP_FIELDS)}
    )
    missing = pa.scalar(None, pa.string())
    fields["DATE"] = pc.if_else(
        pc.match_substring_regex(fields["DATE"], _DATE),
        pc.replace_substring_regex(fields["DATE"], _DATE, r"\1/\2/20\3"),
        missing,
    )
    for counter in ("ENTRIES", "EXITS"):
        fields[counter] = pc.if_else(pc.match_substring_regex(fields[counter], _COUNTER), fields[counter], missing)
    empty = pa.repeat(pa.scalar("", pa.string()), len(line_of_reading))
    fields.update({name: empty for name in _NAMES})
    return LegacyReadings(fields, line_of_reading, well_formed)

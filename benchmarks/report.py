"""docs/benchmarks.md: the report every benchmark writes its section of."""

from datetime import datetime, timezone
from pathlib import Path

REPORT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def now() -> str:
    return f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"


def write_section(heading: str, lines: list[str], output: Path = REPORT) -> None:
    """Replace the section under `heading` in the report with `lines` (which start with it), or add it at the end."""
    text = output.read_text() if output.exists() else "# Benchmarks\n"
    section = "\n".join(lines).rstrip("\n") + "\n"
    if heading in text:
        start = text.index(heading)
        following = text.find("\n## ", start + len(heading))
        text = text[:start] + section + ("" if following < 0 else "\n" + text[following + 1 :])
    else:
        text = text.rstrip("\n") + "\n\n" + section
    output.write_text(text)
    print(f"wrote the section {heading!r} of {output}")

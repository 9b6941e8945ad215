"""Charts of daily ridership for the UI: Markdown with the PNG inline."""

import base64
import io
from datetime import date

from dagster import MetadataValue


def chart(series: dict[str, list[tuple[date, int]]], title: str) -> MetadataValue:
    """A chart of daily series (label -> (day, riders)) as Markdown with the PNG inline, for the UI."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(10, 4), dpi=100)
    for label, points in series.items():
        if points:
            # Dots, not lines: a series with gaps (weeks not loaded, the eras) must not look continuous.
            axes.plot([day for day, _ in points], [riders / 1e6 for _, riders in points], ".", markersize=2, label=label)
    axes.set_ylabel("millions of riders")
    axes.set_ylim(bottom=0)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    if any(series.values()):  # a legend of nothing warns
        axes.legend()
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pyplot.close(figure)
    image = base64.b64encode(buffer.getvalue()).decode()
    return MetadataValue.md(f"![{title}](data:image/png;base64,{image})")

"""The benchmark's ratios as a chart: ``python -m stress.bench --plot FILE.svg`` (or ``.png``).

For each workload with a stdlib rival, two bars: its ratio to the rival pinned to one CPU and on all
CPUs (the median over rounds).  Each bar starts at 1 (the rival's cost) on a log scale, so it points
left where threadevent is cheaper and right where it costs more, and its length is the factor.  A
whisker spans the lowest to the highest round, and a black tick marks the row's bar: the limit the
median must stay left of (the row's own on one CPU, 1 on all CPUs).  A missed bar is outlined in red.
The rows with an absolute limit (kill and Timeout latencies, the thread count) are in the table only.

An SVG is written with its text as text and without a date, so that a regenerated chart diffs as
little as its numbers changed.

matplotlib is an optional extra of the repository (``python -m pip install -e '.[plot]'``), imported
only here and only when a chart is asked for; threadevent itself never needs it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

__all__ = ["MISSING", "available", "plot"]

MISSING = "--plot needs matplotlib, which is not installed: python -m pip install -e '.[plot]'"

_ONE = "#4477aa"  # one CPU
_ALL = "#ee8866"  # all CPUs
_MISSED = "#cc0000"
_HEIGHT = 0.36  # of each of a row's two bars; the rows are 1 apart


def available() -> bool:
    """Whether matplotlib can be imported (checked before a run, so that --plot fails at once)."""
    return importlib.util.find_spec("matplotlib") is not None


def _label(ratio: float, missed: bool) -> str:
    """Two decimals where they mean something, two significant digits for the tiny ratios; a missed bar
    gets a third digit, so that 0.703 over a bar of 0.7 does not read as 0.70."""
    if missed:
        return f"MISSED {ratio:.3g}"
    return f"{ratio:.2f}" if ratio >= 0.095 else f"{ratio:.2g}"


def _draw_row(ax: Any, row: dict[str, Any], y: float, color: str, limit: float | None) -> tuple[float, float]:
    """One bar from 1 to the row's ratio, its whisker, its limit and its value; the x span it covers."""
    ratio = max(row["ratio"], 1e-9)  # a log scale has no 0
    spread = row.get("ratios") or [ratio]
    low, high = max(min(spread), 1e-9), max(spread)
    missed = limit is not None and ratio > limit
    ax.barh(y, abs(ratio - 1.0), left=min(ratio, 1.0), height=_HEIGHT, color=color,
            edgecolor=_MISSED if missed else color, linewidth=2 if missed else 0)  # fmt: skip
    ax.errorbar(ratio, y, xerr=[[ratio - low], [high - ratio]], fmt="none", ecolor="#333333",
                elinewidth=0.9, capsize=2.5)  # fmt: skip
    if limit is not None:
        ax.plot([limit, limit], [y - 0.24, y + 0.24], color="black", linewidth=2.2, solid_capstyle="butt")
    # The value goes beyond the whisker's outer end: left of a cheaper bar, right of a costlier one.
    left = ratio < 1.0
    ax.annotate(_label(row["ratio"], missed), (low if left else high, y),
                xytext=(-5 if left else 5, 0), textcoords="offset points", ha="right" if left else "left",
                va="center", fontsize=8, color=_MISSED if missed else "#222222")  # fmt: skip
    return low, high


def plot(one: dict[str, Any], every: dict[str, Any], path: str, title: str = "") -> None:
    """Draw the ratio rows of a benchmark run (its two modes, as ``bench.run`` returns them) to ``path``.

    The format follows the file's extension (``.svg``, ``.png``, ``.pdf``).  Raises ImportError with
    ``MISSING`` if matplotlib is not installed.
    """
    try:
        import matplotlib
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
    except ImportError:
        raise ImportError(MISSING) from None

    rows = [(a, b) for a, b in zip(one["rows"], every["rows"], strict=True) if a["ratio"] is not None]
    if not rows:
        raise ValueError("no ratio rows to plot (the benchmark measured none)")
    # Text as text (small, diffable, searchable), ids and metadata that do not change from run to run.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "threadevent"}):
        fig = Figure(figsize=(10, 0.55 * len(rows) + 2.0), layout="constrained")
        ax = fig.add_subplot()
        ax.set_xscale("log")
        lowest, highest = 1.0, 1.0
        for i, (a, b) in enumerate(rows):
            # A row without a bar only reports; on all CPUs the bar of every other row is 1.
            for row, y, color, limit in (
                (a, i - 0.2, _ONE, a["bar"]),
                (b, i + 0.2, _ALL, None if a["bar"] is None else 1.0),
            ):
                low, high = _draw_row(ax, row, y, color, limit)
                lowest, highest = min(lowest, low), max(highest, high)
        ax.axvline(1.0, color="#666666", linewidth=0.8)
        # Room for the values beyond the whiskers; a costlier bar's value goes right of it.
        ax.set_xlim(lowest / 12, highest * (12 if highest > 1.0 else 3))
        ax.set_yticks(range(len(rows)), [f"{a['name']}\nvs {a['rival']}" for a, _ in rows], fontsize=8)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlabel(
            "threadevent's cost / the stdlib rival's (time, or memory), log scale: left of 1 is cheaper"
        )
        ax.set_title(title or "threadevent against the standard library", fontsize=11)
        ax.grid(axis="x", which="major", color="#e4e4e4", linewidth=0.6)
        ax.set_axisbelow(True)
        handles = [
            Patch(color=_ONE, label="pinned to 1 CPU: median of the rounds"),
            Patch(color=_ALL, label="on all CPUs: median of the rounds"),
            Line2D([], [], color="#333333", linewidth=0.9, marker="|", label="lowest to highest round"),
            Line2D([], [], color="black", linewidth=2.2, label="its bar: the median must stay left of it"),
            Patch(facecolor="white", edgecolor=_MISSED, linewidth=2, label="a missed bar"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        svg = Path(path).suffix.lower() == ".svg"
        fig.savefig(path, dpi=110, metadata={"Date": None} if svg else None)

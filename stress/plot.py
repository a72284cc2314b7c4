"""The benchmark's ratios as a chart: ``python -m stress.bench --plot FILE.png`` (or ``.svg``).

For each workload with a stdlib rival, two bars: its ratio to the rival pinned to one CPU and on all
CPUs (the median over rounds), a whisker from the lowest to the highest round, and a mark at the bar
each must stay under (the row's own bar on one CPU, 1 on all CPUs).  A ratio below 1 means threadevent
is faster.  The rows with an absolute limit (kill and Timeout latencies, the thread count) are in the
table only.

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


def available() -> bool:
    """Whether matplotlib can be imported (checked before a run, so that --plot fails at once)."""
    return importlib.util.find_spec("matplotlib") is not None


def plot(one: dict[str, Any], every: dict[str, Any], path: str, title: str = "") -> None:
    """Draw the ratio rows of a benchmark run (its two modes, as ``bench.run`` returns them) to ``path``.

    The format follows the file's extension (``.png``, ``.svg``, ``.pdf``).  Raises ImportError with
    ``MISSING`` if matplotlib is not installed.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(MISSING) from None

    rows = [(a, b) for a, b in zip(one["rows"], every["rows"], strict=True) if a["ratio"] is not None]
    if not rows:
        raise ValueError("no ratio rows to plot (the benchmark measured none)")
    fig = Figure(figsize=(10, 0.62 * len(rows) + 1.5), layout="constrained")
    ax = fig.add_subplot()
    ax.set_xscale("log")
    ax.axvline(1.0, color="#999999", linestyle=":", linewidth=1)
    lowest = 1.0
    for offset, color, marker, label, side in (
        (-0.17, _ONE, "o", "1 CPU (pinned): median, lowest to highest round", 0),
        (0.17, _ALL, "s", "all CPUs: median, lowest to highest round", 1),
    ):
        for i, pair in enumerate(rows):
            row, y = pair[side], i + offset
            ratio = row["ratio"]
            spread = row.get("ratios") or [ratio]
            # A row without a bar only reports; on all CPUs the bar of every other row is 1.
            limit = None if pair[0]["bar"] is None else pair[0]["bar"] if side == 0 else 1.0
            missed = limit is not None and ratio > limit
            ax.errorbar(ratio, y, xerr=[[ratio - min(spread)], [max(spread) - ratio]], fmt=marker,
                        color=color, markersize=7, capsize=3, linewidth=1.2,
                        markeredgecolor="#cc0000" if missed else color, markeredgewidth=2 if missed else 1,
                        label=label if i == 0 else None)  # fmt: skip
            if limit is not None:
                ax.plot([limit, limit], [y - 0.15, y + 0.15], color="black", linewidth=2.2)
            ax.annotate(("MISSED  " if missed else "") + f"{ratio:.2g}", (min(spread), y), xytext=(-6, 0),
                        textcoords="offset points", ha="right", va="center", fontsize=7.5,
                        color="#cc0000" if missed else "#333333")  # fmt: skip
            lowest = min(lowest, min(spread))
    ax.set_xlim(left=lowest / 8)  # room for the values, left of each point
    ax.plot([], [], color="black", linewidth=2.2, label="its bar: the median must stay left of it")
    ax.set_yticks(range(len(rows)), [f"{a['name']}\nvs {a['rival']}" for a, _ in rows], fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel("threadevent's cost / the stdlib rival's (time, or memory): below 1 is cheaper; log scale")
    ax.set_title(title or "threadevent against the standard library", fontsize=11)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(axis="x", which="both", color="#eeeeee", linewidth=0.6)
    ax.set_axisbelow(True)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)

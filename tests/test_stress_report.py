"""What ``python -m stress`` tells its reader: how long it takes, its progress, one verdict, replays that run.

The suite's own checks (scenarios, planted bugs) are in test_stress.py; these are about the command line
and the benchmark's report.  Everything here runs in a few seconds: one brief scenario, one tiny row.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PATIENCE

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # ``stress`` is a directory of the checkout, not an installed package
    sys.path.insert(0, str(ROOT))

from stress import bench  # noqa: E402


def run(
    *args: str, module: str = "stress", pythonpath: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` from the checkout's root, with PYTHONPATH as given (none by default)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=4 * PATIENCE,
    )


def last_line(text: str) -> str:
    return text.rstrip("\n").splitlines()[-1]


# -- the command line ------------------------------------------------------------------------------


def test_help_says_how_long_each_run_takes() -> None:
    done = run("--help")
    assert done.returncode == 0
    durations = done.stdout[done.stdout.index("How long a run takes") :].splitlines()
    said = dict(line.strip().split("  ", 1) for line in durations if line.strip().startswith("python -m"))
    assert sorted(said) == ["python -m stress", "python -m stress --long", "python -m stress --quick"]
    assert all(" s" in took or "minute" in took for took in said.values()), said
    assert "--long" in done.stdout and "--quick" in done.stdout


def test_quick_and_long_exclude_each_other() -> None:
    done = run("--quick", "--long", "--no-bench")
    assert done.returncode == 2
    assert "not allowed with argument" in done.stderr


def test_the_last_line_is_the_verdict_on_both_parts() -> None:
    done = run("--only", "reset_races", "--duration", "0.2", "--threads", "4", "--seed", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert last_line(done.stdout) == (
        "verdict: OK: every invariant held, no thread leaked (1 scenario); benchmark not run (--only)."
    )


def test_a_replay_line_is_a_complete_command() -> None:
    # The broken Event lives in tests/test_stress.py: neither the run nor its replay needs PYTHONPATH.
    args = ["--only", "fan_out", "--duration", "3", "--threads", "4", "--seed", "7", "--patience", "1"]
    done = run(*args, "--event", "test_stress:NotifyOneEvent")
    assert done.returncode == 1, done.stdout + done.stderr
    assert last_line(done.stdout).startswith("verdict: FAILED: fan_out: ")
    (replay,) = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("replay: ")]
    command = shlex.split(replay.removeprefix("replay: "))
    assert command[:3] == ["python", "-m", "stress"]
    again = run(*command[3:])
    assert again.returncode == 1, again.stdout + again.stderr
    assert "lost wake-up" in again.stdout or "never woke" in again.stdout


def test_a_replay_names_a_pythonpath_the_run_needed(tmp_path: Path) -> None:
    tests = str(ROOT / "tests")
    (tmp_path / "broken_events.py").write_text(
        f"import sys\nsys.path.append({tests!r})\nfrom test_stress import NotifyOneEvent as Broken\n"
    )
    args = ["--only", "fan_out", "--duration", "3", "--threads", "4", "--seed", "7", "--patience", "1"]
    done = run(*args, "--event", "broken_events:Broken", pythonpath=str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    (replay,) = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("replay: ")]
    assert replay.startswith(
        f"replay: PYTHONPATH={shlex.quote(str(tmp_path))} python -m stress --only fan_out"
    )


# -- the benchmark's report ------------------------------------------------------------------------


def test_row_names_give_the_size_measured() -> None:
    for row in bench.ROWS:
        for length in ("quick", "default"):
            assert "100k" not in row.title(row.size_for(length)), (length, row.name)
    long = [row.title(row.size_for("long")) for row in bench.ROWS if "{n}" in row.name]
    assert long and all("100k" in name for name in long)


def _row(ratio: float, ratios: list[float], bar: float | None = 0.8) -> dict[str, object]:
    return {"name": "ping-pong", "rival": "threading.Event", "unit": "us", "bar": bar, "ratio": ratio,
            "ratios": ratios, "ours": 1.0, "rival_value": 1.0}  # fmt: skip


def test_a_missed_bar_carries_the_spread_of_the_rounds() -> None:
    met = _row(0.5, [0.4, 0.5, 0.6])
    noisy = _row(1.04, [0.93, 1.04, 1.12])
    assert bench.judge(met, met) == []
    (why,) = bench.judge(met, noisy)
    assert why == "all CPUs ratio 1.040 > 1 (3 rounds, 0.930 to 1.120; the best round met it, noise likely)"
    regressed = _row(0.9, [0.85, 0.9, 0.95])
    (why,) = bench.judge(regressed, met)
    assert (
        why
        == "1 CPU ratio 0.900 > 0.8 (3 rounds, 0.850 to 0.950; every round missed it, a regression likely)"
    )
    summary = bench.summary({"rows": [met, regressed]}, {"rows": [met, noisy]})
    assert "\n" not in summary
    assert summary.startswith("1 of 2 bars MISSED: ping-pong vs threading.Event: 1 CPU ratio 0.900 > 0.8")
    assert "all CPUs ratio 1.040 > 1 (3 rounds, 0.930 to 1.120" in summary
    assert bench.summary({"rows": [met]}, {"rows": [met]}) == "every bar met (1 row)"


def test_a_default_run_takes_fewer_rounds_of_a_row_that_runs_over_its_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def slow(n: int) -> float:
        time.sleep(0.02)
        return 1.0

    monkeypatch.setattr(bench, "ROWS", [bench.Row("slow {n}", slow, "slower", slow, 1, 2.0)])
    (row,) = bench._run_rows("default", 5, 1.0, None, "test", budget=0.05)
    assert len(row["ratios"]) == bench._MIN_ROUNDS == 3
    (row,) = bench._run_rows("default", 5, 1.0, None, "test")
    assert len(row["ratios"]) == 5


@pytest.mark.timeout(60)
def test_the_benchmark_reports_each_row_as_it_is_measured() -> None:
    done = run("--quick", "--rounds", "2", "--only", "wait() on a sent event", module="stress.bench")
    assert done.returncode == 0, done.stdout + done.stderr
    progress = [line.strip() for line in done.stderr.splitlines()]
    assert [line.split("]")[0] for line in progress] == ["[1 CPU 1/1", "[all CPUs 1/1"]
    assert all("ratio" in line and "rounds" in line for line in progress), progress
    assert last_line(done.stdout).startswith("Benchmark: ")


# -- the chart -------------------------------------------------------------------------------------


def _modes() -> tuple[dict[str, object], dict[str, object]]:
    timed = _row(0.3, [0.2, 0.3, 0.5])
    slow = {**_row(1.2, [0.9, 1.2, 1.4]), "name": "spawn"}
    memory = {**_row(0.001, [0.001], bar=None), "name": "peak memory"}
    count = {**_row(0.0, []), "name": "threads", "ratio": None}  # an absolute row: not drawn
    return {"rows": [timed, slow, memory, count], "note": "pinned"}, {"rows": [timed, slow, memory, count]}


def test_plot_draws_the_ratios(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the chart needs the plot extra (matplotlib)")
    from stress import plot

    one, every = _modes()
    for name in ("bench.png", "bench.svg"):
        plot.plot(one, every, str(tmp_path / name), "a title")
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (tmp_path / "bench.svg").read_text()
    assert "MISSED" in svg and "a title" in svg


def test_plot_without_matplotlib_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from stress import plot

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    one, every = _modes()
    with pytest.raises(ImportError, match=r"pip install -e '\.\[plot\]'"):
        plot.plot(one, every, "never.png")
    monkeypatch.setattr(plot, "available", lambda: False)
    with pytest.raises(SystemExit) as exited:
        bench.main(["--plot", "never.png"])  # before anything is measured
    assert exited.value.code == 2
    assert plot.MISSING in capsys.readouterr().err


def test_a_missed_limit_says_it_is_the_worst_of_a_one_off_measurement() -> None:
    kill = {"name": "kill()", "rival": "", "unit": "s", "bar": 0.05, "size": 40, "ratio": None, "ratios": []}
    (why,) = bench.judge({**kill, "ours": 0.1}, {**kill, "ours": 0.01})
    assert (
        why == "1 CPU 100.0 ms > 50.0 ms (the worst of 40, measured once: re-run to see whether it repeats)"
    )

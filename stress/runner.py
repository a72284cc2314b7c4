"""The stress suite's runner and command line: run the scenarios, watch the threads, report, judge.

    python -m stress                      # every scenario for 3 s with 16 threads, then the benchmark
    python -m stress --quick              # every scenario briefly (CI), then the quick benchmark
    python -m stress --long               # every scenario for 5 s, then the long benchmark
    python -m stress --only fan_out --seed 1234 --duration 30 --no-bench

Run it from the repository's root: ``stress`` is a directory of the checkout, not an installed package.
Exit status 1 if any scenario reported an invariant violation or left a thread behind; the output then
says what broke, and the command that replays it with the same seed.  The last line is the verdict on
both parts, the invariants and the benchmark's bars (a missed bar does not change the exit status).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import random
import shlex
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from stress import event_scenarios, greenthread_scenarios, queue_scenarios
from stress.harness import Context, Settings, Unavailable
from threadevent import hub

__all__ = ["SCENARIOS", "Result", "Scenario", "main", "run_scenario", "run_suite"]

#: The hub's idle timeout during a run: short, so that the workers a scenario started retire soon after
#: it, and a thread still there after that is a leak rather than an idle worker.
_IDLE_TIMEOUT = 0.2


@dataclass(frozen=True)
class _Length:
    """A run length: the scenarios' duration and threads (the benchmark has lengths of the same names)."""

    duration: float
    threads: int


_LENGTHS = {"quick": _Length(1.5, 8), "default": _Length(3.0, 16), "long": _Length(5.0, 16)}
#: What --help says about them: as measured on the development machine.
_DURATIONS = """\
How long a run takes, measured on a shared 2-core machine:
  python -m stress            about 70 s: {n} scenarios x 3 s, then the benchmark (fewer rounds if busy)
  python -m stress --quick    about 30 s: {n} scenarios x 1.5 s, then a smoke run of the benchmark
  python -m stress --long     about 4 minutes: {n} scenarios x 5 s, then the benchmark's full sizes
With --no-bench: about 40 s, 20 s and 60 s."""
#: Without a terminal, a scenario that runs longer than this says how far it got, every so often.
_PLAIN_EVERY = 5.0
#: The checkout's root: ``python -m stress`` runs from there.
_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Scenario:
    """A named stress scenario: ``run(ctx)`` hammers one primitive and reports through ``ctx``."""

    name: str
    run: Callable[[Context], None]

    @property
    def summary(self) -> str:
        doc = self.run.__doc__ or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""


SCENARIOS: list[Scenario] = [
    Scenario("fan_out", event_scenarios.fan_out),
    Scenario("ping_pong", event_scenarios.ping_pong),
    Scenario("reset_races", event_scenarios.reset_races),
    Scenario("timeout_races", event_scenarios.timeout_races),
    Scenario("spawn_churn", greenthread_scenarios.spawn_churn),
    Scenario("kill_storm", greenthread_scenarios.kill_storm),
    Scenario("links_callbacks", greenthread_scenarios.links_callbacks),
    Scenario("timeout_storm", greenthread_scenarios.timeout_storm),
    Scenario("pool_imap", greenthread_scenarios.pool_imap),
    Scenario("queue_storm", queue_scenarios.queue_storm),
    Scenario("semaphore_storm", queue_scenarios.semaphore_storm),
]


@dataclass
class Result:
    """What one scenario run came to."""

    name: str
    seconds: float
    ops: int
    violations: int
    messages: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)
    p50: float | None = None
    p99: float | None = None
    threads_before: int = 0
    threads_after: int = 0
    leaked: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return self.violations == 0 and not self.leaked

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0


# -- running ---------------------------------------------------------------------------------------


def run_scenario(
    scenario: Scenario, settings: Settings, progress: Callable[[Context], None] | None = None
) -> Result:
    """Run one scenario and then wait, bounded, for the threads it started to retire.

    Threads alive afterwards that were not alive before count as leaked.  For the wait to end soon,
    configure the hub with a short idle timeout first (``run_suite`` does).
    """
    before = set(threading.enumerate())
    ctx = Context(scenario.name, settings, progress)
    try:
        scenario.run(ctx)
    except Unavailable as missing:
        ctx.skipped = str(missing)
    except Exception as exc:  # the scenario's own setup broke (its threads report through ctx)
        ctx.violation(f"the scenario raised {type(exc).__name__}: {exc}", detail=traceback.format_exc())
    finally:
        ctx.finished = time.monotonic()
        ctx.tick()
    seconds = ctx.finished - ctx.started
    leaked = [] if ctx.hung else _settle(before, settings.patience)
    samples = sorted(ctx.samples())
    return Result(
        name=scenario.name,
        seconds=seconds,
        ops=ctx.ops,
        violations=ctx.violations,
        messages=ctx.messages,
        details=ctx.details,
        notes=dict(ctx.notes),
        p50=_quantile(samples, 0.50),
        p99=_quantile(samples, 0.99),
        threads_before=len(before),
        threads_after=threading.active_count(),
        leaked=leaked or list(ctx.hung),
        skipped=ctx.skipped,
    )


def _settle(before: set[threading.Thread], patience: float) -> list[str]:
    """Wait until every thread not in ``before`` has ended; the names of those that have not, after a while.

    Idle hub workers and the timer thread exit after the hub's idle timeout (the timer after two), so
    the wait is short when nothing leaked.
    """
    deadline = time.monotonic() + patience
    while True:
        new = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not new or time.monotonic() > deadline:
            return sorted(t.name for t in new)
        time.sleep(0.01)


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _hub_limits() -> tuple[int | None, float]:
    # The runner must put back what it found.
    config = hub.configuration()
    return config.max_threads, config.idle_timeout


def run_suite(
    scenarios: Sequence[Scenario],
    settings: Settings,
    out: TextIO | None = None,
    idle_timeout: float = _IDLE_TIMEOUT,
) -> tuple[list[Result], int, int]:
    """Run ``scenarios`` one after the other; the results, and the thread count before and after.

    The hub's idle timeout is ``idle_timeout`` meanwhile (then put back): the wait for each scenario's
    threads to retire takes about twice that.  With ``out``, a progress line per scenario goes there
    (``\\r``-updated on a terminal).
    """
    max_threads, saved_idle_timeout = _hub_limits()
    threads_before = threading.active_count()
    hub.configure(max_threads=max_threads, idle_timeout=idle_timeout)
    results = []
    try:
        for scenario in scenarios:
            progress = _Progress(out, settings) if out is not None else None
            if progress is not None:
                progress.start(scenario.name)
            result = run_scenario(scenario, settings, progress)
            if progress is not None:
                progress.finish(result)
            results.append(result)
    finally:
        hub.configure(max_threads=max_threads, idle_timeout=saved_idle_timeout)
    return results, threads_before, threading.active_count()


class _Progress:
    """The live line: ``\\r``-updated on a terminal; otherwise a line at the start, one at the end, and one
    every few seconds in between."""

    def __init__(self, out: TextIO, settings: Settings) -> None:
        self.out = out
        self.settings = settings
        self.tty = out.isatty()
        self.shown = 0.0
        self.width = 0

    def start(self, name: str) -> None:
        if not self.tty:
            self.shown = time.monotonic()
            print(f"{name}: running for {self.settings.duration:g} s...", file=self.out, flush=True)

    def __call__(self, ctx: Context) -> None:
        now = time.monotonic()
        if now - self.shown < (0.1 if self.tty else _PLAIN_EVERY):
            return
        self.shown = now
        elapsed = now - ctx.started
        line = (
            f"{ctx.name:<16} {min(elapsed, ctx.duration):5.1f}/{ctx.duration:g} s  {ctx.ops:>11,} ops  "
            f"{ctx.violations} violations" + ("  (winding down)" if elapsed > ctx.duration else "")
        )
        if self.tty:
            self._show(line)
        else:
            print(f"{ctx.name}: {line[17:].strip()}", file=self.out, flush=True)

    def _show(self, line: str) -> None:
        pad = max(0, self.width - len(line))
        self.width = len(line)
        self.out.write("\r" + line + " " * pad)
        self.out.flush()

    def finish(self, result: Result) -> None:
        if result.skipped:
            status = f"skipped: {result.skipped}"
        elif result.ok:
            status = "ok"
        else:
            status = f"FAILED: {result.violations} violations" + (
                f", leaked threads {result.leaked}" if result.leaked else ""
            )
        line = f"{result.name:<16} {result.seconds:5.1f} s  {result.ops:>11,} ops  {status}"
        if self.tty:
            self._show(line)
            self.out.write("\n")
            self.out.flush()
        else:
            print(f"{result.name}: {line[17:].strip()}", file=self.out, flush=True)


# -- reporting -------------------------------------------------------------------------------------


def _fmt_latency(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def render(results: Sequence[Result], threads_before: int, threads_after: int) -> str:
    """The summary table, then the thread counts."""
    head = ("scenario", "operations", "ops/s", "p50", "p99", "violations", "threads", "notes")
    rows = [head]
    for r in results:
        if r.skipped:
            rows.append((r.name, "-", "-", "-", "-", "-", "-", f"skipped: {r.skipped}"))
            continue
        notes = ", ".join(f"{k}: {v:,}" for k, v in sorted(r.notes.items()))
        leaked = f" (leaked {len(r.leaked)})" if r.leaked else ""
        rows.append(
            (
                r.name,
                f"{r.ops:,}",
                f"{r.rate:,.0f}",
                _fmt_latency(r.p50),
                _fmt_latency(r.p99),
                str(r.violations),
                f"{r.threads_before} -> {r.threads_after}{leaked}",
                notes,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    right = {1, 2, 3, 4, 5}
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(f"threads: {threads_before} before the run, {threads_after} after")
    return "\n".join(lines)


def _replay(name: str, settings: Settings, event: str | None) -> str:
    """The complete command that runs the scenario again with the same choices (from the checkout's root)."""
    command = (
        f"python -m stress --only {name} --seed {settings.seed} --threads {settings.threads} "
        f"--duration {settings.duration:g} --patience {settings.patience:g} --no-bench"
    )
    if not event:
        return command
    return _pythonpath_for(event.partition(":")[0]) + command + f" --event {shlex.quote(event)}"


def _pythonpath_for(module_name: str) -> str:
    """``PYTHONPATH=DIR `` if the module was found only through $PYTHONPATH (and not in the checkout's root
    or its tests/, where ``python -m stress`` finds modules itself), else ``""``."""
    file = getattr(sys.modules.get(module_name), "__file__", None)
    if file is None:
        return ""
    entry = Path(file).resolve().parent
    for _ in range(module_name.count(".") + (Path(file).name == "__init__.py")):
        entry = entry.parent
    own = {_ROOT, _ROOT / "tests"}
    given = {Path(p).resolve() for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    if entry in own or entry not in given:
        return ""
    return f"PYTHONPATH={shlex.quote(str(entry))} "


def _failures(results: Sequence[Result], settings: Settings, event: str | None) -> str:
    lines = []
    for r in results:
        if r.ok:
            continue
        lines.append(
            f"{r.name}: {r.violations} invariant violations" + (f", leaked {r.leaked}" if r.leaked else "")
        )
        lines += [f"  - {message}" for message in r.messages]
        if r.violations > len(r.messages):
            lines.append(f"  - ... and {r.violations - len(r.messages)} more")
        for detail in r.details[:1]:
            lines += ["    " + line for line in detail.rstrip().splitlines()]
        lines.append(f"  replay: {_replay(r.name, settings, event)}")
    return "\n".join(lines)


# -- the command line ------------------------------------------------------------------------------


def _positive(kind: type[float] | type[int]) -> Callable[[str], Any]:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
        return value

    return parse


def _load_event(spec: str) -> Callable[[], Any]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise SystemExit(
            f"python -m stress: --event takes MODULE:NAME (e.g. mypkg.events:MyEvent), not {spec!r}"
        )
    try:
        factory = getattr(_import(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise SystemExit(f"python -m stress: --event {spec}: {exc}") from None
    if not callable(factory):
        raise SystemExit(f"python -m stress: --event {spec} is not callable")
    return factory  # type: ignore[no-any-return]


def _import(module_name: str) -> Any:
    """Import the module; if there is none of that name, look in the checkout's tests/ too.

    The suite's own broken Events live there (``--event test_stress:NotifyOneEvent``): with this, neither
    that command nor the replay line printed after it needs ``PYTHONPATH=tests``.
    """
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        tests = str(_ROOT / "tests")
        if exc.name != module_name.partition(".")[0] or tests in sys.path:
            raise
    sys.path.append(tests)
    return importlib.import_module(module_name)


def _parser() -> argparse.ArgumentParser:
    quick, default, long = _LENGTHS["quick"], _LENGTHS["default"], _LENGTHS["long"]
    parser = argparse.ArgumentParser(
        prog="python -m stress",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Hammer every threadevent primitive with many threads and check its invariants, then\n"
        "run the benchmark report; the last line is the verdict on both.  Run it from the\n"
        "repository's root.\n\n" + _DURATIONS.format(n=len(SCENARIOS)),
        epilog="scenarios: " + ", ".join(s.name for s in SCENARIOS) + " (--list describes them)",
    )
    parser.add_argument(
        "--duration",
        metavar="SECONDS",
        type=_positive(float),
        help=f"seconds per scenario (default {default.duration:g}, quick {quick.duration:g}, "
        f"long {long.duration:g})",
    )
    parser.add_argument(
        "--threads",
        metavar="N",
        type=_positive(int),
        help=f"threads per scenario (default {default.threads}, quick {quick.threads}, long {long.threads})",
    )
    parser.add_argument(
        "--seed", metavar="N", type=int, help="seed for every random choice (default: a fresh one, printed)"
    )
    parser.add_argument(
        "--only",
        metavar="NAME",
        action="append",
        help="run only this scenario (repeat, or comma-separate); no benchmark then",
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--quick",
        action="store_true",
        help="every scenario briefly, then a smoke run of the benchmark (what CI runs)",
    )
    length.add_argument(
        "--long",
        action="store_true",
        help="every scenario for longer, then the benchmark's full sizes (100k items) and 7 rounds",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the scenarios' results to FILE as JSON")
    parser.add_argument("--no-bench", action="store_true", help="skip the benchmark report")
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="also draw the benchmark's ratios and bars to FILE (.png, .svg; needs the plot extra: "
        "python -m pip install -e '.[plot]')",
    )
    parser.add_argument(
        "--patience",
        metavar="SECONDS",
        type=_positive(float),
        default=20.0,
        help="the bound on each single wait, in seconds: past it, a wait counts as never woken (default 20)",
    )
    parser.add_argument(
        "--event",
        metavar="MODULE:NAME",
        help="run the Event scenarios (fan_out, ping_pong, reset_races, timeout_races) against another "
        "Event class, e.g. to see the suite catch a broken one (MODULE is also looked for in tests/)",
    )
    parser.add_argument("--list", action="store_true", help="describe the scenarios and exit")
    return parser


def _select(parser: argparse.ArgumentParser, only: list[str] | None) -> list[Scenario]:
    if not only:
        return list(SCENARIOS)
    by_name = {s.name: s for s in SCENARIOS}
    names = [name.strip() for item in only for name in item.split(",") if name.strip()]
    unknown = [name for name in names if name not in by_name]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; the scenarios are: {', '.join(by_name)}")
    return [by_name[name] for name in dict.fromkeys(names)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list:
        for s in SCENARIOS:
            print(f"{s.name:<16} {s.summary}")
        return 0
    scenarios = _select(parser, args.only)
    if args.threads is not None and args.threads < 2:
        parser.error("--threads must be at least 2 (a sender and a receiver)")
    if args.plot:
        from stress import plot

        if args.only or args.no_bench:
            parser.error("--plot draws the benchmark, which --only and --no-bench leave out")
        if not plot.available():
            parser.error(plot.MISSING)
    run_length = "quick" if args.quick else "long" if args.long else "default"
    length = _LENGTHS[run_length]
    settings = Settings(
        duration=args.duration or length.duration,
        threads=args.threads or length.threads,
        seed=args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32),
        patience=args.patience,
    )
    if args.event:
        settings = replace(settings, event=_load_event(args.event))
    print(
        f"threadevent stress suite: {len(scenarios)} scenario{'s' if len(scenarios) != 1 else ''}, "
        f"{settings.duration:g} s each, "
        f"{settings.threads} threads, seed {settings.seed}"
        + (f", events from {args.event}" if args.event else ""),
        flush=True,
    )
    try:
        results, before, after = run_suite(scenarios, settings, out=sys.stderr)
    except KeyboardInterrupt:
        print("\ninterrupted: no verdict", file=sys.stderr)
        return 130
    print()
    print(render(results, before, after))
    ok = all(r.ok for r in results)
    if ok:
        print("\nEvery invariant held; no thread leaked.")
    else:
        print("\nFAILED:\n" + _failures(results, settings, args.event))
    if args.json:
        _write_json(args.json, results, settings, before, after, ok)
    sys.stdout.flush()
    if args.only or args.no_bench:
        bench_ok, bench_says = True, f"benchmark not run ({'--only' if args.only else '--no-bench'})"
    else:
        try:
            bench_ok, bench_says = _bench(run_length, args.plot)
        except KeyboardInterrupt:
            print("\ninterrupted: no verdict", file=sys.stderr)
            return 130
    ok = ok and bench_ok
    print("\n" + _verdict(results, ok, bench_says), flush=True)
    return 0 if ok else 1


def _verdict(results: Sequence[Result], ok: bool, bench_says: str) -> str:
    """The one line that ends a run: the invariants and the benchmark's bars."""
    failed = [r for r in results if not r.ok]
    if failed:
        stress_says = ", ".join(
            r.name
            + (f": {r.violations} invariant violations" if r.violations else "")
            + (f"{',' if r.violations else ':'} {len(r.leaked)} leaked threads" if r.leaked else "")
            for r in failed
        )
    else:
        skipped = sum(1 for r in results if r.skipped)
        ran = len(results) - skipped
        stress_says = (
            f"every invariant held, no thread leaked ({ran} scenario{'s' if ran != 1 else ''}"
            + (f", {skipped} skipped" if skipped else "")
            + ")"
        )
    word = "FAILED" if not ok else "OK, but a bar MISSED" if "MISSED" in bench_says else "OK"
    return f"verdict: {word}: {stress_says}; {bench_says}."


def _write_json(
    path: str, results: Sequence[Result], settings: Settings, before: int, after: int, ok: bool
) -> None:
    document = {
        "settings": {
            "duration": settings.duration,
            "threads": settings.threads,
            "seed": settings.seed,
            "patience": settings.patience,
        },
        "scenarios": [{**asdict(r), "ok": r.ok, "ops_per_second": r.rate} for r in results],
        "threads_before": before,
        "threads_after": after,
        "ok": ok,
    }
    with open(path, "w") as f:
        json.dump(document, f, indent=2)


def _bench(length: str, plot_to: str | None = None) -> tuple[bool, str]:
    """Run the benchmark report (and draw it to ``plot_to``): whether it ran, and what it says in a few words.

    A missed bar is reported, not a failure (the machine may be busy); a crash is a failure, and so is a
    chart that was asked for and could not be drawn.
    """
    from stress import bench

    print("\n", flush=True)
    try:
        report = bench.run(length)
    except Exception as exc:
        print(f"\nFAILED: the benchmark crashed: {type(exc).__name__}: {exc}", flush=True)
        return False, f"the benchmark CRASHED ({type(exc).__name__}: {exc})"
    says = f"benchmark: {report.summary}"
    says += "" if report.ok else " (a missed bar does not change the exit status)"
    if plot_to is not None:
        try:
            report.chart(plot_to)
        except Exception as exc:
            print(f"\nFAILED: no chart: {type(exc).__name__}: {exc}", flush=True)
            return False, says + f"; the chart FAILED ({type(exc).__name__}: {exc})"
        print(f"\nThe chart: {plot_to}", flush=True)
        says += f"; chart in {plot_to}"
    return True, says

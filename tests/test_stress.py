"""The stress suite catches real violations: broken primitives fail it, threadevent's pass it.

The broken ones are the kind of mistake a primitive is usually written with first, each breaking one
invariant of the reliability rules in docs/design.md.  The scenarios run very briefly here (the suite
itself is ``python -m stress``), with a short patience so that a lost wake-up is reported quickly.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import PATIENCE

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # ``stress`` is a directory of the checkout, not an installed package
    sys.path.insert(0, str(ROOT))

from stress.harness import Context, Settings  # noqa: E402
from stress.runner import SCENARIOS, Result, Scenario, run_suite  # noqa: E402
from threadevent import Queue, Semaphore  # noqa: E402

BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
#: Short runs: a few hundred rounds of each scenario, not a stress test.
BRIEF = 0.2
#: For the broken Events: a lost wake-up is reported after this (or half of it, for one that the
#: waiter's timeout recovers), so that these tests stay short.  The correct ones get the full PATIENCE.
SHORT_PATIENCE = 1.0
#: The hub's idle timeout during these runs: the wait for a scenario's threads to retire is short.
IDLE = 0.05


class TextbookEvent:
    """An Event as it is often first written: a flag and an outcome under a ``threading.Condition``.

    Right for a one-shot event: the control for the two broken ones below, each of which changes one
    method of it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._sent = False
        self._outcome: tuple[Any, BaseException | None] = (None, None)

    def send(self, result: Any = None, exc: BaseException | None = None) -> None:
        with self._cond:
            if self._sent:
                raise AssertionError("Trying to re-send() an already-triggered event.")
            self._sent = True
            self._outcome = (result, exc)
            self._wake()

    def _wake(self) -> None:
        self._cond.notify_all()

    def send_exception(self, exc: BaseException) -> None:
        self.send(None, exc)

    def wait(self, timeout: float | None = None) -> Any:
        with self._cond:
            if not self._cond.wait_for(lambda: self._sent, timeout):
                return None
            result, exc = self._outcome
        if exc is not None:
            raise exc
        return result

    def reset(self) -> None:
        with self._cond:
            if not self._sent:
                raise AssertionError("Trying to re-reset() a fresh event.")
            self._sent = False
            self._outcome = (None, None)

    def ready(self) -> bool:
        return self._sent


class NotifyOneEvent(TextbookEvent):
    """``notify()`` where ``notify_all()`` belongs: one blocked waiter wakes, the others never do."""

    def _wake(self) -> None:
        self._cond.notify()


class StaleEvent(TextbookEvent):
    """Serves a sent outcome from a lock-free fast path, and ``reset()`` forgets to clear it."""

    def reset(self) -> None:
        with self._cond:
            if not self._sent:
                raise AssertionError("Trying to re-reset() a fresh event.")
            self._sent = False  # the outcome stays behind

    def wait(self, timeout: float | None = None) -> Any:
        result, exc = self._outcome
        if result is not None or exc is not None:  # "already sent": skip the lock
            if exc is not None:
                raise exc
            return result
        return super().wait(timeout)


def run(
    names: list[str],
    event: Any = None,
    patience: float = SHORT_PATIENCE,
    threads: int = 4,
    **primitives: Any,
) -> list[Result]:
    settings = Settings(duration=BRIEF, threads=threads, seed=20240611, patience=patience)
    if event is not None:
        settings = replace(settings, event=event)
    if primitives:
        settings = replace(settings, **primitives)
    results, _, _ = run_suite([BY_NAME[name] for name in names], settings, idle_timeout=IDLE)
    return results


def lost_wake_up(result: Result) -> bool:
    """Whether a wait was reported as never woken, or as woken only when its timeout ran out."""
    return any("never woke" in message or "lost wake-up" in message for message in result.messages)


def describe(result: Result) -> str:
    return f"{result.name}: {result.violations} violations {result.messages} leaked {result.leaked}"


# -- threadevent's own primitives pass --------------------------------------------------------------


def test_every_scenario_passes_with_threadevent() -> None:
    results = run([scenario.name for scenario in SCENARIOS], patience=PATIENCE)
    for result in results:
        assert result.ok, describe(result)
        if result.skipped is None:
            assert result.ops > 0, f"{result.name} did nothing in {BRIEF} s"
    assert [r.name for r in results] == [s.name for s in SCENARIOS]


def test_the_textbook_event_passes_fan_out() -> None:
    # The control: fan_out does not fail a Condition-based event as such, only the broken wake-up below.
    (result,) = run(["fan_out"], event=TextbookEvent, patience=PATIENCE)
    assert result.ok, describe(result)
    assert result.ops > 0


# -- broken Events are caught ----------------------------------------------------------------------


def test_fan_out_catches_a_lost_wake_up() -> None:
    (result,) = run(["fan_out"], event=NotifyOneEvent)
    assert not result.ok
    assert lost_wake_up(result), result.messages


def test_timeout_races_catches_a_lost_wake_up() -> None:
    (result,) = run(["timeout_races"], event=NotifyOneEvent, threads=8)
    assert not result.ok
    assert lost_wake_up(result), result.messages


def test_reset_races_catches_a_stale_wake_up() -> None:
    (result,) = run(["reset_races"], event=StaleEvent)
    assert not result.ok
    assert any("stale wake-up" in message for message in result.messages), result.messages


def test_ping_pong_catches_a_stale_wake_up() -> None:
    (result,) = run(["ping_pong"], event=StaleEvent)
    assert not result.ok
    assert any("expected hop" in message for message in result.messages), result.messages


class DroppingQueue(Queue[Any]):
    """Broken: a get that ends in an exception (a kill, a Timeout) still takes an item, the next one put,
    and loses it."""

    def __init__(self, maxsize: int | None = None) -> None:
        super().__init__(maxsize)
        self.owed = 0

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        try:
            return super().get(block, timeout)
        except BaseException:
            self.owed += 1
            raise

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if self.owed > 0:
            self.owed -= 1
            return  # "put", and gone
        super().put(item, block, timeout)


class LeakySemaphore(Semaphore):
    """Broken: an acquire that ends in an exception loses a permit."""

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        try:
            return super().acquire(blocking, timeout)
        except BaseException:
            # Taken, and never given back.  Straight from the tokens: a call of acquire() here would
            # be a checkpoint, where an expired Timeout could replace the kill being raised.
            with contextlib.suppress(IndexError):
                self._tokens.pop()
            raise


def test_queue_storm_catches_a_queue_that_drops_items() -> None:
    (result,) = run(["queue_storm"], threads=6, queue=DroppingQueue)
    assert not result.ok
    assert any("never got" in message for message in result.messages), result.messages


def test_semaphore_storm_catches_a_lost_permit() -> None:
    (result,) = run(["semaphore_storm"], semaphore=LeakySemaphore)
    assert not result.ok
    assert any("after the storm" in message for message in result.messages), result.messages


# -- the runner's own checks -----------------------------------------------------------------------


def test_a_thread_left_behind_is_reported_as_leaked() -> None:
    release = threading.Event()
    leaker = threading.Thread(target=release.wait, args=(PATIENCE,), name="left-behind", daemon=True)

    def leaky(ctx: Context) -> None:
        """Starts a thread and does not wait for it."""
        ctx.count()
        leaker.start()

    try:
        settings = Settings(duration=0.01, threads=2, patience=0.3)
        results, _, _ = run_suite([Scenario("leaky", leaky)], settings, idle_timeout=IDLE)
    finally:
        release.set()
        leaker.join(PATIENCE)
    (result,) = results
    assert result.violations == 0
    assert result.leaked == ["left-behind"]
    assert not result.ok


def test_an_exception_in_a_scenario_thread_is_a_violation() -> None:
    def raises(ctx: Context) -> None:
        """Its thread raises."""
        ctx.run(lambda: 1 / 0)

    settings = Settings(duration=0.01, threads=2, patience=1.0)
    results, _, _ = run_suite([Scenario("raises", raises)], settings, idle_timeout=IDLE)
    (result,) = results
    assert result.violations == 1
    assert "ZeroDivisionError" in result.messages[0]
    assert "1 / 0" in result.details[0]


# -- the command line ------------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "stress", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=4 * PATIENCE,
    )


def test_cli_passes_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "stress.json"
    done = cli(
        "--only",
        "fan_out,reset_races",
        "--duration",
        "0.2",
        "--threads",
        "4",
        "--seed",
        "7",
        "--json",
        str(out),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "seed 7" in done.stdout
    assert "Every invariant held" in done.stdout
    report = json.loads(out.read_text())
    assert report["ok"] is True
    assert report["settings"]["seed"] == 7
    assert [s["name"] for s in report["scenarios"]] == ["fan_out", "reset_races"]
    assert all(s["violations"] == 0 and s["ops"] > 0 for s in report["scenarios"])


def test_cli_exits_1_on_a_broken_event_and_says_how_to_replay() -> None:
    done = cli(
        "--only", "fan_out", "--duration", "0.2", "--threads", "4", "--seed", "7", "--patience", "1",
        "--event", "test_stress:NotifyOneEvent",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout
    assert "lost wake-up" in done.stdout or "never woke" in done.stdout
    assert "replay: python -m stress --only fan_out --seed 7 --threads 4" in done.stdout
    assert "--event test_stress:NotifyOneEvent" in done.stdout


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--only", "nope"], "unknown scenario nope"),
        (["--threads", "1"], "--threads must be at least 2"),
        (["--duration", "0"], "must be a positive number"),
        (["--event", "no_colon"], "--event takes MODULE:NAME"),
    ],
)
def test_cli_rejects_bad_arguments(args: list[str], error: str) -> None:
    done = cli(*args, "--no-bench")
    assert done.returncode != 0
    assert error in done.stderr
    assert "scenarios" not in done.stdout  # nothing ran

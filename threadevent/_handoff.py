"""Handing off on one CPU: whether a wait should yield the CPU a few times before it blocks.

When every thread of the process shares one CPU, waking a blocked waiter makes the kernel switch to it
at once; it finds the GIL still held by the sender and sleeps again, and the sender must wake it a second
time when it lets the GIL go: up to three switches per hand-off, where one would do.  A waiter that first
yields the CPU a few times, the GIL released, is still runnable when the send comes: the send has nobody
to wake, and the hand-off costs the one switch of the yield.  Measured on a 2-core Linux VM with two
threads pinned to one CPU: a send/wait round trip went from about 5 switches and 22 us to 2 switches and
9 us.  On several CPUs the yielding waiter fights the sender on the other CPU for the GIL instead
(measured: slower), so there it blocks at once.  The affinity can change while the process runs
(``os.sched_setaffinity``, ``taskset -p``), so it is looked at again every second or so.

Yielding only pays when the send comes soon, and when no busy thread competes for the GIL: then each
yield may cost a switch interval (5 ms, or more with several) before the GIL comes back.  So the waits
share a credit: each wait that yields takes one, one whose yields found what it waits for fills it
again, and a yield that was slow turns yielding off.  With no credit left, waits block at once until the
next look at the affinity lets one wait try again.

The policy's state is shared by every thread and changed without a lock: a lost update only steers the
waits to come a little differently, never a wait's outcome.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from time import monotonic
from typing import TypeVar

__all__ = ["AFFINITY_CHECK_EVERY", "POLICY", "YIELDS", "YIELD_AT_MOST", "YIELD_CREDIT", "Policy", "spin"]

_T = TypeVar("_T")

#: How many times a wait yields before it blocks.
YIELDS = 3
#: How many waits may yield in a row without finding what they wait for.
YIELD_CREDIT = 8
#: Yields slower than this (seconds, all of a wait's together) mean a busy thread: a hand-off takes
#: microseconds, while a busy thread keeps the GIL for a switch interval (5 ms).
YIELD_AT_MOST = 0.0002
#: How often (seconds) the process's CPU affinity is looked at again.
AFFINITY_CHECK_EVERY = 1.0

sched_yield = getattr(os, "sched_yield", None)
sched_getaffinity = getattr(os, "sched_getaffinity", None)


class Policy:
    """Whether waits yield first: the process has one CPU, and yielding has been paying off."""

    __slots__ = ("credit", "next_look", "one_cpu")

    def __init__(self) -> None:
        #: When to look at the CPU affinity again (``monotonic()`` clock).
        self.next_look = 0.0
        #: Whether the process had one CPU at the last look.
        self.one_cpu = False
        #: Waits that may still yield; -1 after a slow yield, until the next look.
        self.credit = YIELD_CREDIT

    def yield_first(self) -> bool:
        """Whether a wait that must block should yield first."""
        one_cpu = self.one_cpu if monotonic() < self.next_look else self.look()
        return one_cpu and self.credit > 0

    def look(self) -> bool:
        """Look at the CPU affinity again: whether the process has one CPU.  Lets one wait try again."""
        one_cpu = False
        if sched_getaffinity is not None and sched_yield is not None:
            try:
                one_cpu = len(sched_getaffinity(0)) == 1
            except OSError:
                pass
        self.one_cpu = one_cpu
        if self.credit < 1:
            self.credit = 1  # one wait may try again; if its yields find the outcome, the credit fills
        self.next_look = monotonic() + AFFINITY_CHECK_EVERY
        return one_cpu


POLICY = Policy()


def spin(found: Callable[[], _T | None]) -> tuple[_T | None, float]:
    """Yield the CPU up to ``YIELDS`` times, until ``found()`` returns something.

    Returns what it found (None if nothing) and the seconds the yields took, which count against the
    caller's timeout.  Call only when ``POLICY.yield_first()`` said so.
    """
    policy = POLICY
    policy.credit -= 1
    started = monotonic()
    for _ in range(YIELDS):
        sched_yield()  # type: ignore[misc]
        value = found()
        if value is not None:
            if policy.credit >= 0:
                policy.credit = YIELD_CREDIT
            return value, monotonic() - started
        if monotonic() - started > YIELD_AT_MOST:
            policy.credit = -1  # a busy thread took the GIL: no yielding until the next look
            break
    return None, monotonic() - started

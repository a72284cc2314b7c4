"""Calls that mypy must accept, and calls it must reject, through threadevent's spawn-like functions.

Checked by ``tests/test_typing.py`` with ``mypy --strict``, whose ``warn_unused_ignores`` turns every
``# type: ignore[...]`` below that mypy would not need into an error: each marked call must really be
rejected, with that error code, and every unmarked call must really be accepted.  Nothing here runs:
the calls sit in a function nobody calls (pytest imports this file for its doctests).
"""

from __future__ import annotations

from typing import Any

import threadevent
from threadevent import (
    GreenPile,
    GreenPool,
    GreenThread,
    spawn,
    spawn_after,
    spawn_after_local,
    spawn_n,
    with_timeout,
)
from threadevent.greenpool import ImapIterator


def square(n: int) -> int:
    return n * n


def greet(name: str, *, punctuation: str = "!") -> str:
    return name + punctuation


def on_done(gt: GreenThread[int], label: str) -> None:
    print(label, gt.dead)


def _cases() -> None:
    # spawn carries the function's parameter and return types.
    gt: GreenThread[int] = spawn(square, 3)
    spawn(square, "x")  # type: ignore[arg-type]
    spawn(square)  # type: ignore[call-arg]
    spawn(square, 1, 2)  # type: ignore[call-arg]
    # The declared type reaches into the inference of spawn's function type, hence arg-type.
    bad: GreenThread[str] = spawn(square, 3)  # type: ignore[arg-type]
    spawn(greet, "ann", punctuation="?")
    spawn(greet, "ann", punct="?")  # type: ignore[call-arg]

    spawn_n(square, 3)
    spawn_n(square, "x")  # type: ignore[arg-type]

    later: GreenThread[int] = spawn_after(0.5, square, 3)
    spawn_after(0.5, square, "x")  # type: ignore[arg-type]
    local: GreenThread[int] = spawn_after_local(0.5, square, 3)
    spawn_after_local(0.5, square, "x")  # type: ignore[arg-type]

    pool = GreenPool(4)
    pooled: GreenThread[int] = pool.spawn(square, 3)
    pool.spawn(square, "x")  # type: ignore[arg-type]
    pool.spawn_n(square, "x")  # type: ignore[arg-type]

    pile: GreenPile[int] = GreenPile(pool)
    pile.spawn(square, 3)
    pile.spawn(square, "x")  # type: ignore[arg-type]

    # imap and starmap carry the function's return type, and eventlet's next() is there.
    squares = pool.imap(square, range(3))
    first: int = next(squares)
    second: int = squares.next()
    wrong: str = squares.next()  # type: ignore[assignment]
    typed: ImapIterator[int] = pool.imap(square, [1, 2])
    for each in pool.imap(greet, ["ann", "bob"]):
        each.upper()
    pool.imap(square, ["x"])  # type: ignore[arg-type]
    pool.imap(square, [1], [2])  # type: ignore[arg-type]
    powers: ImapIterator[int] = pool.imap(pow, [2, 3], [3, 2])
    pool.imap(1, [1])  # type: ignore[call-overload]
    pairs: ImapIterator[tuple[Any, ...]] = pool.imap(None, [1], ["a"])
    started: ImapIterator[int] = pool.starmap(square, [(1,), (2,)])
    started_wrong: ImapIterator[str] = pool.starmap(square, [(1,)])  # type: ignore[arg-type]
    again: int = iter(started).next()

    # with_timeout: checked through the function, except when timeout_value is given.
    n: int = with_timeout(1.0, square, 3)
    with_timeout(1.0, square, "x")  # type: ignore[call-overload]
    maybe: int | None = with_timeout(1.0, square, 3, timeout_value=None)

    # link passes the greenthread first, then the curried arguments.
    gt.link(on_done, "finished")
    gt.link(on_done, 5)  # type: ignore[arg-type]
    gt.unlink(on_done, "finished")

    threadevent.spawn(square, 3).wait() + 1
    print(gt, bad, later, local, pooled, n, maybe)
    print(first, second, wrong, typed, powers, pairs, started, started_wrong, again)

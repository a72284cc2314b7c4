"""The asyncio bridge: ``await`` on an Event or a GreenThread suspends the coroutine, not the loop's thread.

The awaitable hooks a done-callback on; when the outcome is sent (in whatever thread sends it), the hook
hands it to the loop with ``call_soon_threadsafe``, and the coroutine resumes on the loop.  A cancelled
coroutine takes its hook off again.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from threadevent._api import Outcome, OutcomeHook

__all__ = ["outcome_from_loop"]


def outcome_from_loop(
    add: Callable[[OutcomeHook], None], remove: Callable[[OutcomeHook], None]
) -> Generator[Any, None, Outcome]:
    """Suspend the running coroutine until a hook given to ``add`` fires; return the outcome it got.

    ``remove`` takes the hook off again if the coroutine leaves first (cancelled).
    """
    import asyncio  # only code that awaits pays for importing asyncio

    loop = asyncio.get_running_loop()
    future: asyncio.Future[Outcome] = loop.create_future()

    def fire(sent: Outcome) -> None:
        try:
            loop.call_soon_threadsafe(_resolve, future, sent)
        except RuntimeError:
            pass  # the loop is closed: nobody is left to wake

    hook = OutcomeHook(fire)
    add(hook)
    try:
        return (yield from future.__await__())
    finally:
        if not future.done() or future.cancelled():
            remove(hook)


def _resolve(future: Any, outcome: Outcome) -> None:
    if not future.done():
        future.set_result(outcome)

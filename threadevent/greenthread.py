"""Greenthreads: functions running on the hub's worker threads, with eventlet's spawn/wait/kill API."""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
import weakref
from _thread import allocate_lock
from collections.abc import Callable
from time import monotonic
from time import sleep as _time_sleep
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from threadevent import hub
from threadevent._api import Outcome, as_exception, check_timeout
from threadevent._checkpoint import (
    PENDING,
    GreenletExit,
    ThreadState,
    block,
    check,
    current_owner,
    current_state,
    runs_user_code,
)
from threadevent._checkpoint import kill as deliver_kill
from threadevent._waitable import Waitable

__all__ = [
    "GreenThread",
    "GreenletExit",
    "PlainThread",
    "getcurrent",
    "kill",
    "sleep",
    "spawn",
    "spawn_after",
    "spawn_after_local",
    "spawn_n",
]

logger = logging.getLogger("threadevent")

_T = TypeVar("_T")
_P = ParamSpec("_P")

#: How long ``kill`` waits before trying again to deliver to a greenthread that had not quite started,
#: or was busy in threadevent's own code (where an asynchronous exception is held back).
_KILL_RETRY = 0.005


class _Alive:
    """Held by its thread's thread-local storage alone, which the interpreter clears as the thread ends:
    while a weak reference to it is alive, so is the thread.  It holds the thread's stand-in."""

    __slots__ = ("__weakref__", "stand_in")

    def __init__(self) -> None:
        self.stand_in = PlainThread(weakref.ref(self))


class _Current(threading.local):
    #: The greenthreads whose links this thread is running, by id, each with the links queued behind.
    running_links: dict[int, list[list[Any]]] | None = None
    #: The stand-in of this thread for ``getcurrent()``, once asked for.
    alive: _Alive | None = None
    #: The greenthread whose exit links this worker thread is running: ``getcurrent()`` there.
    exiting: GreenThread[Any] | None = None


_current = _Current()


class PlainThread:
    """What ``getcurrent()`` returns in a thread that runs no greenthread: a stand-in for that thread.

    eventlet code uses ``getcurrent()`` as a dict key, compares it by identity, reads ``.dead`` and tests
    ``bool()`` on it, wherever it runs.  In the main thread, a ``threading.Thread`` or a worker thread
    between greenthreads, this object serves those uses: one per thread, the same at every call,
    alive (``dead`` false, ``bool()`` true) while the thread runs and dead once it has ended.  It holds
    nothing of the thread's, and nothing holds it but its thread's local storage (and whoever keeps it).

    What it deliberately is not: a greenthread.  It cannot be waited for, linked or killed; a thread is
    joined with ``threading.Thread.join()``.

    >>> me = getcurrent()
    >>> me is getcurrent(), me.dead, bool(me)
    (True, False, True)
    """

    __slots__ = ("__weakref__", "_alive", "ident", "name")

    def __init__(self, alive: weakref.ref[_Alive]) -> None:
        thread = threading.current_thread()
        #: The thread's name and ident when the stand-in was made (an ident is reused once it has ended).
        self.name = thread.name
        self.ident = threading.get_ident()
        self._alive = alive

    @property
    def dead(self) -> bool:
        """True once the thread has ended."""
        return self._alive() is None

    def __bool__(self) -> bool:
        return self._alive() is not None

    def __repr__(self) -> str:
        return f"<PlainThread {self.name!r} at {id(self):#x} {'ended' if self.dead else 'alive'}>"


def getcurrent() -> GreenThread[Any] | PlainThread:
    """The greenthread running in the calling thread; in a thread that runs none, its ``PlainThread``.

    In a link that runs as the greenthread ends, on its worker thread, that greenthread (eventlet runs
    those links in the ending greenthread itself); in a link run in its caller (linked once the
    greenthread had ended, or run by ``cancel()``), the caller.

    >>> from threadevent import spawn
    >>> gt = spawn(getcurrent)
    >>> gt.wait() is gt
    True
    >>> getcurrent()
    <PlainThread 'MainThread' at 0x... alive>
    """
    owner = current_owner()
    if owner is not None:
        return owner  # type: ignore[return-value]
    current = _current
    exiting = current.exiting
    if exiting is not None:
        return exiting
    alive = current.alive
    if alive is None:
        alive = current.alive = _Alive()
    return alive.stand_in


def current_greenthread() -> GreenThread[Any] | None:
    """The greenthread running in the calling thread, or None: for threadevent's own checks, which must
    not make a stand-in for every plain thread they run in."""
    return current_owner()  # type: ignore[return-value]


#: Why a wait for the calling greenthread itself is refused, in ``wait()`` and the wait-on-many functions.
SELF_WAIT = "cannot wait for the greenthread it is called from"


#: What a greenthread's ``_unclaimed`` becomes once its function has started: empty, so that ``cancel()``
#: finds nothing left to claim, and shared, so that ``bool()`` tells a started greenthread from a
#: cancelled one (which keeps its own emptied list).  Nothing ever adds to it.
_STARTED: list[None] = []


class GreenThread(Waitable[_T]):
    """A function running on a worker thread of the hub, and the outcome it will have.

    ``spawn(func, ...)`` makes one; ``wait()`` returns what ``func`` returned or raises what it raised,
    with ``func``'s own frames in the traceback (inside ``func`` itself it raises ``RuntimeError``, as
    ``threading.Thread.join()`` does there).  ``bool(gt)`` is true while ``func`` runs, as a greenlet's.
    ``kill()`` stops it: at once if it is blocked in a checkpoint (``Event.wait``, ``sleep``, ...), at its
    next bytecode otherwise (best effort: a blocking C call is not interrupted).  It is also a
    ``concurrent.futures``-style future (``result``, ``exception``, ``done``, ``add_done_callback``) and
    awaitable from asyncio.

    What it is not: a green thread in eventlet's sense.  It runs in parallel with the rest of the program,
    preempted like any thread, so ``sleep(0)`` orders nothing; synchronise with ``wait()``.

    >>> from threadevent import spawn
    >>> spawn(sum, [1, 2, 3]).wait()
    6
    """

    __slots__ = ("_args", "_context", "_func", "_kwargs", "_state", "_timer", "_unclaimed")

    def __init__(
        self,
        func: Callable[..., _T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        context: contextvars.Context,
    ) -> None:
        Waitable.__init__(self)
        self._func: Callable[..., _T] | None = func
        self._args: tuple[Any, ...] | None = args
        self._kwargs: dict[str, Any] | None = kwargs
        self._context: contextvars.Context | None = context
        #: Holds one item until _run() or cancel() pops it: whichever does, owns the greenthread's fate.
        self._unclaimed = [None]
        self._state: ThreadState | None = None
        self._timer: hub.TimerHandle | None = None

    # -- running, on a worker thread -------------------------------------------------------------

    @runs_user_code
    def _run(self) -> None:
        """The hub task: run the function once, publish its outcome, leave the worker clean."""
        try:
            self._unclaimed.pop()  # atomic: exactly one of _run() and cancel() gets past this
        except IndexError:
            return  # cancelled before a worker got to it
        self._unclaimed = _STARTED
        state = current_state(create=True)
        assert state is not None
        self._state = state
        func, args, kwargs, context = self._take_call()
        outcome: Outcome | None = None
        while True:
            # An asynchronous kill may land anywhere until leave() has run, including in this loop
            # rather than in the function: whatever it interrupts, it becomes the outcome (unless the
            # function's own outcome was already in hand) and the loop tries again.
            try:
                if outcome is None:
                    state.enter(self)
                    try:
                        outcome = (context.run(func, *args, **kwargs), None, None)
                    except BaseException as exc:
                        outcome = _failed(state, exc)
                state.leave()
                break
            except BaseException as exc:
                if outcome is None:
                    outcome = _failed(state, exc)
        # ``_state`` is cleared only once the links have run: while it is this thread's, they are
        # this greenthread's exit (see ``_run_callbacks``).  A kill meanwhile finds no owner there.
        try:
            self._publish(outcome)
        finally:
            self._state = None
        # This frame heads the traceback of a failed function's outcome, which a log record kept by
        # a handler may hold too: it must not hold the greenthread (a cycle only the gc would break).
        del self

    def _take_call(self) -> tuple[Callable[..., _T], tuple[Any, ...], dict[str, Any], contextvars.Context]:
        """The call to make, dropped from the greenthread: once it has run, nothing keeps it alive."""
        func, args, kwargs, context = self._func, self._args, self._kwargs, self._context
        self._func = self._args = self._kwargs = self._context = None
        assert func is not None and args is not None and kwargs is not None and context is not None
        return func, args, kwargs, context

    def _publish(self, outcome: Outcome, retrieved: bool = False) -> None:
        """Send the function's outcome; ``retrieved``: someone else raises its exception."""
        result, error, tb = outcome
        if error is None:
            self._send(result)
            return
        if retrieved:
            self._retrieved = True
        elif not isinstance(error, GreenletExit):  # a kill or a cancel is no error to report
            # Only now does it need a __del__ (to log an exception nobody retrieved): a class with one
            # costs every collected greenthread a call, so only the failed ones switch to it.
            self.__class__ = _FailedGreenThread
        self._send(None, (type(error), error, tb))

    # -- waiting ---------------------------------------------------------------------------------

    def _wait(self, timeout: float) -> Outcome | None:
        # Every wait for the outcome that may block comes here (wait, result, exception, a GreenPile's
        # iteration): inside the greenthread itself it would never end.  ``threading.Thread.join()``
        # raises there too, and code that waits for a group of threads relies on it to skip itself.
        if current_owner() is self:
            raise RuntimeError(SELF_WAIT)
        return Waitable._wait(self, timeout)

    @property
    def dead(self) -> bool:
        """True once the function has ended: finished, killed or cancelled."""
        return self._outcome is not None

    def __bool__(self) -> bool:
        """greenlet's truthiness, which eventlet code tests with ``if gt:``: true only while it runs.

        False before it starts (a ``spawn_after`` not yet due, or queued behind ``max_threads``) and
        once it has ended, cancelled or killed.

        >>> from threadevent import spawn_after
        >>> later = spawn_after(3600, print, "never")
        >>> bool(later), later.dead
        (False, False)
        >>> later.cancel(), bool(later), later.dead
        (True, False, True)
        """
        return self._unclaimed is _STARTED and self._outcome is None

    # -- links -----------------------------------------------------------------------------------

    def link(
        self,
        func: Callable[Concatenate[GreenThread[_T], _P], object],
        *curried_args: _P.args,
        **curried_kwargs: _P.kwargs,
    ) -> None:
        """Call ``func(self, *curried_args, **curried_kwargs)`` once the function has ended.

        Links run in the order linked, in the worker thread (where ``getcurrent()`` is this greenthread);
        at once, in the caller, if it has ended already.  A link may link further functions; they run
        after it, never recursively.
        """
        if not callable(func):
            raise TypeError(f"link() needs a callable, not {type(func).__name__}")
        self._retrieved = True
        self._add(_Link(func, curried_args, curried_kwargs))

    def unlink(
        self,
        func: Callable[Concatenate[GreenThread[_T], _P], object],
        *curried_args: _P.args,
        **curried_kwargs: _P.kwargs,
    ) -> bool:
        """Remove the first link of ``func`` with these arguments that has not run; whether one was."""
        target: _Link[_T] = _Link(func, curried_args, curried_kwargs)
        with self._lock:
            callbacks = self._callbacks
            if callbacks is not None:
                for i, fn in enumerate(callbacks):
                    if fn.__class__ is _Link and fn == target:
                        del callbacks[i]
                        return True
        return False

    def _run_callbacks(self, callbacks: list[Any], outcome: Outcome) -> None:
        # A link that links more to this same greenthread must not recurse: while a thread runs this
        # greenthread's links, new ones join its queue and run after the current one.  Links of other
        # greenthreads run at once, so that a link may wait for what another one does.
        running = _current.running_links
        if running is None:
            running = _current.running_links = {}
        key = id(self)  # self is alive for the whole call: the id is not reused meanwhile
        queue = running.get(key)
        if queue is not None:
            queue.append(callbacks)
            return
        queue = running[key] = []
        # Run by _run() on this greenthread's own worker, as it ends: getcurrent() in them is this
        # greenthread, as in eventlet.  Run in a caller (linked once ended, cancel()): the caller.
        state = self._state
        exiting = state is not None and state is current_state()
        if exiting:
            _current.exiting = self
        try:
            Waitable._run_callbacks(self, callbacks, outcome)
            while queue:
                Waitable._run_callbacks(self, queue.pop(0), outcome)
        finally:
            try:
                # Only reached with links queued if a BaseException escaped one: those still run once.
                while queue:
                    Waitable._run_callbacks(self, queue.pop(0), outcome)
            finally:
                del running[key]
                if exiting:
                    _current.exiting = None

    # -- stopping --------------------------------------------------------------------------------

    def cancel(self, *throw_args: Any) -> bool:
        """Stop it if it has not started: it never runs, waiters raise ``throw_args`` (default
        ``GreenletExit``), links run; return True.  Otherwise no effect; return False."""
        exc, tb = as_exception(throw_args if throw_args else (GreenletExit,))
        try:
            self._unclaimed.pop()
        except IndexError:
            return False  # running or ended
        if self._timer is not None:
            self._timer.cancel()
        self._func = self._args = self._kwargs = self._context = None
        self._send(None, (type(exc), exc, tb))
        return True

    def kill(self, *throw_args: Any, timeout: float | None = None) -> bool:
        """Raise ``throw_args`` (default ``GreenletExit``) inside it, and wait until it has ended.

        Not started: as ``cancel``.  Blocked in a checkpoint: raised there at once.  Running other code:
        raised asynchronously at its next bytecode (best effort), and again at its next checkpoint
        unless it is handling it there (in an ``except`` or ``finally`` block): the interpreter drops
        an exception raised in a ``__del__`` or a gc callback.  On CPython 3.13 and later, where an
        asynchronous exception can skip ``finally`` blocks and ``with`` exits, only at its next
        checkpoint.  From inside itself: raised here.  Ended: no effect.

        Returns True once it has ended.  ``timeout`` (seconds) bounds the wait: False if it still runs
        then (a target that catches its kill and goes on, or one blocked in a C call), and the kill
        stays pending for its next checkpoint.
        """
        seconds = -1.0 if timeout is None else check_timeout(timeout)
        exc, tb = as_exception(throw_args if throw_args else (GreenletExit,))
        if current_owner() is self:
            raise exc.with_traceback(tb)
        if self.cancel(exc.with_traceback(tb)):
            return True
        deadline = monotonic() + seconds if seconds >= 0.0 else -1.0
        # Raised once, at the latest when it ends; offered again every few milliseconds while it is
        # still pending: the function has not quite started, it is busy in threadevent's own code, or
        # a wait that succeeded as the kill came left it for the next checkpoint (``postpone``), which
        # a busy function may be far from.  Each offer of a kill already raised does nothing.
        while True:
            state = self._state
            if state is not None:
                deliver_kill(state, exc, self)
            wait = _KILL_RETRY if deadline < 0.0 else min(_KILL_RETRY, max(deadline - monotonic(), 0.0))
            if self._wait(wait) is not None:
                return True
            if deadline >= 0.0 and monotonic() >= deadline:
                return False

    # -- the rest --------------------------------------------------------------------------------

    def __repr__(self) -> str:
        outcome = self._outcome
        if outcome is not None:
            status = "dead, " + ("returned" if outcome[1] is None else f"raised {outcome[1]!r}")
        else:
            status = "running" if self._unclaimed is _STARTED else "pending"
        return f"<GreenThread at {id(self):#x} {status}>"


class _FailedGreenThread(GreenThread[_T]):
    """What a GreenThread whose function raised becomes: it logs the exception if nobody retrieved it."""

    __slots__ = ()

    def __del__(self) -> None:
        outcome = self._outcome
        if outcome is not None and outcome[1] is not None and not self._retrieved:
            exc = outcome[1]
            # repr(self), not self: a handler that keeps the record (pytest's caplog, a MemoryHandler)
            # would bring the greenthread back to life through record.args.
            logger.error(
                "GreenThread exception was never retrieved: %s",
                repr(self),
                exc_info=(type(exc), exc, outcome[2]),
            )


def _failed(state: ThreadState | None, exc: BaseException) -> Outcome:
    """The outcome of a function that raised ``exc`` (the kill's own instance, if ``exc`` is its copy)."""
    error = exc if state is None else state.failure(exc)
    return (None, error, exc.__traceback__)


class _Link(Generic[_T]):
    """A link as a done-callback: ``func(gt, *args, **kwargs)``; equal when all three are."""

    __slots__ = ("args", "func", "kwargs")

    def __init__(self, func: Callable[..., object], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs

    @runs_user_code
    def __call__(self, greenthread: GreenThread[_T]) -> None:
        self.func(greenthread, *self.args, **self.kwargs)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Link)
            and self.func == other.func
            and self.args == other.args
            and self.kwargs == other.kwargs
        )

    __hash__ = None  # type: ignore[assignment]


# -- the spawn family --------------------------------------------------------------------------------


def spawn(func: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> GreenThread[_T]:
    """Run ``func(*args, **kwargs)`` on a worker thread; return its ``GreenThread`` at once.

    ``func`` runs in a copy of the caller's ``contextvars`` context.  ``TypeError`` at once, with nothing
    scheduled, if ``func`` is not callable.
    """
    if not callable(func):
        raise TypeError(f"spawn() needs a callable, not {type(func).__name__}")
    if PENDING[0]:
        # A kill held back while this greenthread ran threadevent's code lands here at the latest:
        # a loop of spawns reaches no blocking checkpoint.
        check()
    greenthread = GreenThread(func, args, kwargs, contextvars.copy_context())
    hub.submit(greenthread._run)
    return greenthread


def spawn_n(func: Callable[_P, object], /, *args: _P.args, **kwargs: _P.kwargs) -> None:
    """Run ``func(*args, **kwargs)`` on a worker thread, fire and forget; cheaper than ``spawn``.

    Nothing to wait on: an uncaught exception goes to ``threading.excepthook`` (which prints it by
    default), and the worker thread carries on.
    """
    if not callable(func):
        raise TypeError(f"spawn_n() needs a callable, not {type(func).__name__}")
    if PENDING[0]:
        check()  # as in spawn()
    hub.submit(functools.partial(contextvars.copy_context().run, func, *args, **kwargs))


def spawn_after(
    seconds: float, func: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
) -> GreenThread[_T]:
    """Like ``spawn``, after ``seconds``; ``cancel()`` (or ``kill()``) before then and it never runs.

    One timer thread serves every delayed spawn.
    """
    if not callable(func):
        raise TypeError(f"spawn_after() needs a callable, not {type(func).__name__}")
    delay = check_timeout(seconds, "seconds", none_ok=False)
    greenthread = GreenThread(func, args, kwargs, contextvars.copy_context())
    if delay >= 0.0:  # else later than any clock reaches: it waits, for cancel() or kill(), for ever
        # Stored before anyone else can see the greenthread, so that cancel() always finds it.
        greenthread._timer = hub.call_later(delay, functools.partial(_start_later, greenthread))
    return greenthread


def spawn_after_local(
    seconds: float, func: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
) -> GreenThread[_T]:
    """Like ``spawn_after``, but cancelled if the greenthread (or plain thread) calling it ends first.

    eventlet's timer local to its caller, for work that means nothing once the caller is gone (a
    connection handler's keep-alive).  When the delay is up, the caller is looked at: if it has ended
    (its ``getcurrent()`` is ``dead``, or was garbage collected), the function never runs and the
    greenthread is cancelled then (waiters raise ``GreenletExit``, links run); else it is spawned.
    Nothing keeps the caller alive meanwhile, and no thread watches it: the timer thread looks once.

    >>> spawn_after_local(0, sum, [1, 2]).wait()  # this thread is still running
    3
    """
    if not callable(func):
        raise TypeError(f"spawn_after_local() needs a callable, not {type(func).__name__}")
    delay = check_timeout(seconds, "seconds", none_ok=False)
    caller = weakref.ref(getcurrent())
    greenthread = GreenThread(func, args, kwargs, contextvars.copy_context())
    if delay >= 0.0:  # as in spawn_after
        start = functools.partial(_start_later_local, greenthread, caller)
        greenthread._timer = hub.call_later(delay, start)
    return greenthread


def _start_later(greenthread: GreenThread[Any]) -> None:
    """In the timer thread: hand a delayed greenthread to the pool, or tell its waiters why not."""
    try:
        hub.submit(greenthread._run)
    except RuntimeError as exc:
        greenthread.cancel(exc)


def _start_later_local(
    greenthread: GreenThread[Any], caller: weakref.ref[GreenThread[Any] | PlainThread]
) -> None:
    """In the timer thread: start a ``spawn_after_local`` greenthread, unless its caller has ended."""
    current = caller()
    if current is not None and not current.dead:
        _start_later(greenthread)
        return
    # Cancelled on a worker thread, not here: its links are the user's code, and the timer thread
    # serves every deadline of the process.
    try:
        hub.submit(greenthread.cancel)
    except RuntimeError:
        greenthread.cancel()  # no worker thread to be had: here, then


def sleep(seconds: float = 0) -> None:
    """Block the calling thread for ``seconds``; ``sleep(0)`` only yields.  A checkpoint.

    Negative means 0.  Unlike eventlet, ``sleep(0)`` does not run the other greenthreads first: they run
    in parallel anyway.
    """
    delay = check_timeout(seconds, "seconds", none_ok=False)
    if delay == 0.0:
        check()
        _time_sleep(0)
        return
    lock = allocate_lock()
    lock.acquire()  # nobody else ever releases it: only an interrupt ends the wait early
    if delay < 0.0:  # longer than any lock timeout: for ever
        while True:
            block(lock, -1.0)
    deadline = monotonic() + delay
    # block() returns True only after an interrupt that was withdrawn before we woke: sleep on.
    while block(lock, delay):
        delay = deadline - monotonic()
        if delay <= 0.0:
            return


def kill(greenthread: GreenThread[Any], *throw_args: Any, timeout: float | None = None) -> bool:
    """``greenthread.kill(*throw_args, timeout=timeout)``."""
    return greenthread.kill(*throw_args, timeout=timeout)


# -- the internal API of GreenPool and its imap: plain names, not exported -------------------------------


def launch(greenthread: GreenThread[Any]) -> None:
    """Hand a greenthread made with ``GreenThread(...)`` to the hub (``RuntimeError``: no thread)."""
    hub.submit(greenthread._run)


@runs_user_code
def run_inline(greenthread: GreenThread[Any]) -> BaseException | None:
    """Run a greenthread that was never started in the calling thread, now; publish its outcome.

    For ``GreenPool.spawn`` re-entered from one of the pool's own greenthreads while the pool is full:
    waiting for a slot that only the caller could free would deadlock.  The thread's ``ThreadState`` is
    left alone (its owner stays the greenthread the caller runs), so a kill aimed at that one still lands
    inside the function, at a checkpoint or asynchronously.  Such a kill, and anything else aimed at
    the caller rather than raised by the function (an expired Timeout, even one raising an
    ``Exception``; anything that is not an ``Exception``: Ctrl-C), is the greenthread's outcome and is
    also returned, for the caller to raise.
    """
    greenthread._unclaimed.pop()  # nobody else has it yet: it cannot have been claimed
    greenthread._unclaimed = _STARTED
    func, args, kwargs, context = greenthread._take_call()
    state = current_state()
    outcome: Outcome | None = None
    escaping: BaseException | None = None
    while True:
        # A kill sent asynchronously may land in this function's own code too (it is a runner): whatever
        # it interrupts, it escapes to the caller, and the outcome is published exactly once.
        try:
            if outcome is None:
                try:
                    outcome = (context.run(func, *args, **kwargs), None, None)
                except BaseException as exc:
                    outcome = _failed(state, exc)
                    escaping = exc if _escapes(state, outcome[1]) else None
            if greenthread._outcome is None:
                greenthread._publish(outcome, retrieved=escaping is not None)
            break
        except BaseException as exc:
            if outcome is None:
                outcome = _failed(state, exc)
            escaping = exc
    del greenthread  # this frame is in the outcome's traceback: it must not hold it (see _run)
    return escaping


def _escapes(state: ThreadState | None, error: BaseException | None) -> bool:
    """Whether a failure of an inline call is the caller's too: aimed at it, or not an ``Exception``."""
    return not isinstance(error, Exception) or (
        state is not None and error is not None and state.aimed_here(error)
    )

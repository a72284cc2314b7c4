"""Checkpoints: the blocking calls of threadevent, which another thread can interrupt.

A thread that blocks in threadevent always blocks in ``acquire()`` on a lock private to that one wait
(see ``block``).  To interrupt it (a kill, an expired Timeout), another thread records the exception in
the target's ``ThreadState`` and releases that lock; the woken thread raises the exception from its
checkpoint, after the blocking call has cleaned up after itself.  No polling is involved.

A thread that nobody can interrupt has no ``ThreadState`` at all, so plain threads pay nothing but one
thread-local lookup on the blocking path, and the non-blocking paths pay one list read
(``PENDING[0]``, the number of threads with an interrupt waiting to be raised).

This module is the whole interrupt protocol: other modules call the functions and methods below and
never read a ``ThreadState``'s fields.  It imports nothing else of threadevent's, so every module may
import it.

The interrupt state of one thread (its ``ThreadState``), guarded by ``ThreadState.lock``:

    owner     the greenthread whose function runs here (None between functions, or in a plain
              thread): kills and deadlines aimed at another greenthread find it gone and do nothing.
    pending   an exception waiting to be raised at the current or next checkpoint.
    parked    the lock the thread sleeps on inside a checkpoint, if it does: an interrupt releases it.
    unsettled a kill raised asynchronously, until the next checkpoint settles whether it arrived.
    deadlines the armed deadlines (``Deadline``) of the Timeouts armed here, and ``earliest``, the first
              of them: a checkpoint whose wait ends past it fires it itself, however late the timer is.

    CLEAR ---interrupt/expire/kill--> PENDING ---checkpoint raises it--> CLEAR
                                      PENDING ---disarm (Timeout.cancel)--> CLEAR
    CLEAR ---a wait starts or ends past an armed deadline the timer has not fired--> raised, CLEAR
    CLEAR ---kill, busy in user code--> UNSETTLED (sent with PyThreadState_SetAsyncExc)
                                      UNSETTLED ---next checkpoint: being handled--> CLEAR
                                      UNSETTLED ---next checkpoint: lost or caught--> raised again, CLEAR
    any   ---leave (the function ended)--> CLEAR, owner None

``PENDING[0]`` counts the threads that are PENDING or UNSETTLED, so that the non-blocking checkpoints
know when to look.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
import threading
from _thread import LockType, RLock, allocate_lock
from collections.abc import Callable
from time import monotonic
from typing import Any, TypeVar

__all__ = [
    "ARMED",
    "ASYNC_KILLS",
    "DONE",
    "FIRED",
    "PENDING",
    "RAISED",
    "Deadline",
    "GreenletExit",
    "ThreadState",
    "arm",
    "block",
    "check",
    "current_owner",
    "current_state",
    "disarm",
    "expire",
    "interrupt",
    "interrupting",
    "kill",
    "postpone",
    "release",
    "runs_user_code",
]

_F = TypeVar("_F", bound=Callable[..., Any])


class GreenletExit(BaseException):
    """The default exception of ``kill()`` and ``cancel()``; a ``BaseException``, as in greenlet."""

#: Whether a kill may be raised asynchronously in a busy greenthread: only before CPython 3.13.  From
#: 3.13 on the interpreter raises an asynchronous exception at the eval-breaker check after the one
#: where the thread gave up the GIL, so ``kill``'s look at the target's frames no longer tells where
#: it lands (often on the first line of ``Lock.__exit__``, which then never releases); 3.13 and 3.14
#: also skip the ``except`` and ``finally`` blocks of one raised on some loop back-edges
#: (python/cpython#130279), and 3.14 raises one between ``with``'s ``__enter__`` and its block
#: (python/cpython#148874).  Measured in docs/design.md.  There a kill waits for the next checkpoint.
ASYNC_KILLS = sys.version_info < (3, 13)

#: How many threads have an interrupt recorded and not yet raised.  A list so that readers can import
#: it once; only ever changed while ``_pending_lock`` is held, and always inline, right beside the
#: change it counts: an asynchronous exception can land as a function starts, and must not split them.
PENDING: list[int] = [0]
_pending_lock = allocate_lock()

#: The stages of a ``Deadline``; it only ever moves forward, and only under its thread's
#: ``ThreadState.lock``.  ARMED: in its thread's ``deadlines``, its moment still to come.  FIRED: its
#: moment came, and its exception is pending in the thread.  RAISED: a checkpoint raised it (or
#: postponed it, its wait having succeeded at that moment).  DONE: it never will be raised: cancelled,
#: put aside for a kill or an enclosing block's deadline, or its greenthread ended.
ARMED, FIRED, RAISED, DONE = 0, 1, 2, 3


class Deadline:
    """One deadline armed in one thread: when it passes, what to raise then, and how far it has got.

    The problem it solves: a deadline that only the timer thread fires is as late as that thread.  On a
    loaded machine the timer can run well after the moment while the waiting thread's own wait ends on
    time, and ``with Timeout(d): sleep(2 * d)`` would run the sleep to its end.  So the deadline is
    also in its thread's ``ThreadState``, and a checkpoint whose wait ends past it fires it there and
    then (see ``block``).  The timer (``expire``) and the checkpoint race to fire it; the first wins
    and the other finds it fired, so it is raised once.

    It does not schedule anything itself: the Timeout that makes it hands ``expire`` to the timer.
    ``rank`` orders deadlines by when they were armed: an enclosing block's deadline goes first.
    ``owner`` is the greenthread that armed it (None in a thread that is not one): it never fires in
    whatever the thread runs next.
    """

    __slots__ = ("exc", "owner", "rank", "stage", "when")

    def __init__(self, when: float, exc: BaseException, rank: int, owner: object) -> None:
        #: On the ``time.monotonic()`` clock.
        self.when = when
        self.exc = exc
        self.rank = rank
        self.owner = owner
        self.stage = ARMED

    def __repr__(self) -> str:
        stage = ("armed", "fired", "raised", "done")[self.stage]
        return f"<{type(self).__name__} rank={self.rank} when={self.when:.6f} {stage}>"


class _Local(threading.local):
    # A class-level default: a missing attribute would cost an AttributeError on every lookup.
    state: ThreadState | None = None


class ThreadState:
    """What another thread needs in order to interrupt this one at a checkpoint."""

    __slots__ = (
        "__weakref__",
        "async_kind",
        "async_sent",
        "deadlines",
        "earliest",
        "expired",
        "ident",
        "killing",
        "lock",
        "owner",
        "parked",
        "pending",
        "unsettled",
    )

    def __init__(self) -> None:
        #: Reentrant only so that ``leave`` can tell a hold of its own thread's that was left behind
        #: (see there); nothing takes it twice on purpose.
        self.lock = RLock()
        self.ident = threading.get_ident()
        #: The exception to raise at this thread's current or next checkpoint.
        self.pending: BaseException | None = None
        #: The lock this thread is blocked on inside a checkpoint, if it is.
        self.parked: LockType | None = None
        #: The greenthread whose function this thread runs, if any: a kill aimed at it interrupts only
        #: while it does, and only then may the interrupt be raised asynchronously (see ``interrupt``).
        self.owner: object = None
        #: The kill aimed at the greenthread running here, once armed: it is delivered only once.
        self.killing: BaseException | None = None
        #: The exception last raised asynchronously in this thread, if it may still be pending in the
        #: interpreter.
        self.async_sent: BaseException | None = None
        #: The class it was raised as (CPython raises a class, not an instance).
        self.async_kind: type[BaseException] | None = None
        #: That exception, until a checkpoint has settled whether it reached the function (``_settle``).
        self.unsettled: BaseException | None = None
        #: The deadline that fired last here (see ``expire``).
        self.expired: Deadline | None = None
        #: The deadlines armed here and not fired yet, and the earliest of their moments (None: none):
        #: what ``block`` looks at when a wait ends.
        self.deadlines: list[Deadline] = []
        self.earliest: float | None = None

    def take(self) -> BaseException | None:
        """Remove and return the pending interrupt.  Call with ``self.lock`` held."""
        exc = self.pending
        if exc is not None:
            self.pending = None
            with _pending_lock:
                PENDING[0] -= 1
        return exc

    def enter(self, owner: object) -> None:
        """The greenthread ``owner`` starts its function here: kills aimed at it may land from now on."""
        # No lock: a killer that still reads the old owner does nothing yet, and tries again.
        self.owner = owner

    def leave(self) -> None:
        """The function has ended: from now on, no interrupt aimed at it is sent and none stays pending.

        An asynchronous exception sent just before may still have been raised in the caller's own code
        before this call took the lock: callers run it in a retry loop until it returns.
        """
        # A guard: where ``with lock:`` calls ``__enter__`` as an ordinary call (CPython 3.14), a kill
        # sent asynchronously as this thread took this lock (the killer holds it while it sends) would
        # be raised before the block is protected, leaving it taken.  No version that sends kills
        # asynchronously today does so, but the function has ended: any hold of this thread's is such
        # a leftover.
        while self.lock._is_owned():  # type: ignore[attr-defined]  # _thread.RLock's, which Condition uses
            self.lock.release()
        with self.lock:
            self.owner = None
            self.killing = None
            expired = self.expired
            if expired is not None:
                self.expired = None
                if expired.stage == FIRED:
                    expired.stage = DONE
            if self.deadlines:  # Timeouts the function left armed: they must not hit the next one
                for deadline in self.deadlines:
                    deadline.stage = DONE
                self.deadlines.clear()
                self.earliest = None
            if self.pending is not None:
                self.take()  # a kill that came too late must not hit the thread's next task
            if self.async_sent is not None:
                self.async_sent = None
                _set_async_exc(self.ident, None)
            if self.unsettled is not None:
                _settled(self)

    def failure(self, exc: BaseException) -> BaseException:
        """What a function that raised ``exc`` here failed with: the kill's own instance if ``exc`` is
        the copy of a kill that the interpreter raised asynchronously, else ``exc``."""
        sent, kind = self.async_sent, self.async_kind
        # A stand-in class, or the kill's own class raised bare (not the function's own error of that
        # class): CPython raises a class, so the copy is a fresh instance without arguments.
        stand_in_or_bare = kind is not type(sent) or not exc.args
        if sent is not None and exc is not sent and exc.__class__ is kind and stand_in_or_bare:
            return sent
        return exc

    def aimed_here(self, error: BaseException) -> bool:
        """Whether ``error`` is an interrupt aimed at this thread's greenthread (its kill or its
        expired deadline) rather than an error of the code it ran."""
        expired = self.expired
        return (
            error is self.killing
            or error is self.async_sent
            or (expired is not None and error is expired.exc)
        )

    def is_parked(self) -> bool:
        """Whether the thread is blocked inside a checkpoint right now."""
        return self.parked is not None

    def thread_name(self) -> str:
        """The thread's name and id, for error messages."""
        for thread in threading.enumerate():
            if thread.ident == self.ident:
                return f"{thread.name!r} (ident {self.ident})"
        return f"ident {self.ident}"


_local = _Local()


def current_state(create: bool = False) -> ThreadState | None:
    """The calling thread's state; with ``create``, made on first use."""
    state = _local.state
    if state is None and create:
        state = _local.state = ThreadState()
    return state


def interrupting(exc: BaseException) -> bool:
    """Whether ``exc`` is an interrupt aimed at the calling thread: its greenthread's kill (or the copy
    the interpreter raised of it) or its expired deadline, rather than an error of the code it ran."""
    state = _local.state
    return state is not None and state.aimed_here(state.failure(exc))


def current_owner() -> object:
    """The greenthread running in the calling thread, or None."""
    state = _local.state
    return None if state is None else state.owner


def release(lock: LockType) -> None:
    """Release a wait's private lock that someone else may have released already.

    A waiter's lock can be released both by the wake-up it waited for and by an interrupt; whichever
    comes second finds it unlocked, which is harmless: the waiter re-checks why it woke.
    """
    try:
        lock.release()
    except RuntimeError:
        pass


def interrupt(state: ThreadState, exc: BaseException) -> None:
    """Make ``exc`` raise at the current or next checkpoint of the thread owning ``state``.

    A later interrupt replaces one not yet raised.  It is raised once: at the checkpoint the thread
    is blocked in (woken at once), or else at its next one.
    """
    with state.lock:
        _set_pending(state, exc)
        parked = state.parked
        if parked is not None:
            release(parked)


def arm(state: ThreadState, deadline: Deadline) -> None:
    """Arm ``deadline`` in ``state``'s thread: from now on it fires there at its moment, whether the
    timer thread (``expire``) or the thread's own checkpoint (``block``) gets there first.

    Nothing happens if it was disarmed in the meantime (a ``cancel()`` from another thread).
    """
    with state.lock:
        if deadline.stage != ARMED:
            return
        state.deadlines.append(deadline)
        earliest = state.earliest
        if earliest is None or deadline.when < earliest:
            state.earliest = deadline.when


def disarm(state: ThreadState, deadline: Deadline) -> int:
    """``deadline`` must not be raised by ``state``'s thread from now on, if it has not been already.

    Returns the stage it had: RAISED if a checkpoint raised (or postponed) it, FIRED if it fired and no
    checkpoint came, ARMED if its moment had not been seen yet, DONE if something else went first.
    """
    with state.lock:
        stage = deadline.stage
        if stage == ARMED:
            _unlist(state, deadline)
        if stage != RAISED:
            deadline.stage = DONE
        if state.expired is deadline and state.pending is deadline.exc:
            state.take()  # it fired a moment ago (or was postponed): no later checkpoint may raise it
        return stage


def expire(state: ThreadState, deadline: Deadline) -> None:
    """The timer thread's call at ``deadline``'s moment: raise its exception at the current or next
    checkpoint of ``state``'s thread, unless a checkpoint there has fired it already."""
    with state.lock:
        if deadline.stage == ARMED:
            _unlist(state, deadline)
            _fire(state, deadline)


def _fire(state: ThreadState, deadline: Deadline) -> None:
    """Make ``deadline``'s exception pending; call with ``state.lock`` held, ``deadline`` unlisted.

    Nothing is raised if the greenthread that armed it no longer runs here: its deadline must not hit
    the next task of the worker thread.  A pending kill is never replaced, nor is the exception of a
    deadline armed earlier (an enclosing ``with Timeout``): those are raised first.  A deadline armed
    earlier does replace a later one's exception that has not been raised yet.
    """
    if state.owner is not deadline.owner:
        deadline.stage = DONE
        return
    pending = state.pending
    expired = state.expired
    if pending is not None:
        if expired is None or pending is not expired.exc or expired.rank < deadline.rank:
            deadline.stage = DONE
            return
        if expired.stage == FIRED:
            expired.stage = DONE  # the enclosing block's deadline takes its place
    _set_pending(state, deadline.exc)
    state.expired = deadline
    deadline.stage = FIRED
    parked = state.parked
    if parked is not None:
        release(parked)


def _unlist(state: ThreadState, deadline: Deadline) -> None:
    """Take ``deadline`` out of the armed ones; call with ``state.lock`` held."""
    deadlines = state.deadlines
    try:
        deadlines.remove(deadline)
    except ValueError:
        return  # disarmed before ``arm`` got to list it, or dropped when its greenthread ended
    state.earliest = min([d.when for d in deadlines]) if deadlines else None


def _overdue(state: ThreadState) -> BaseException | None:
    """At the end of a wait: fire the deadline that has passed, if the timer thread has not yet; its
    exception (None if the timer got there first, or a kill is pending).  Call with ``state.lock`` held.

    When several have passed, the enclosing block's (the lowest rank) is raised, as when the timer fires
    them all before the thread looks.  Deadlines of a greenthread that no longer runs here are dropped.
    """
    now = monotonic()
    first: Deadline | None = None
    for deadline in list(state.deadlines):
        if deadline.owner is not state.owner:
            _unlist(state, deadline)
            deadline.stage = DONE
        elif deadline.when <= now and (first is None or deadline.rank < first.rank):
            first = deadline
    if first is None:
        return None
    _unlist(state, first)
    _fire(state, first)
    return _take(state)


def _due(state: ThreadState) -> BaseException | None:
    """What a checkpoint raises now: the pending interrupt, else a deadline that has passed unfired.
    Call with ``state.lock`` held."""
    if state.pending is not None:
        return _take(state)
    earliest = state.earliest
    if earliest is not None and earliest <= monotonic():
        return _overdue(state)
    return None


def _take(state: ThreadState) -> BaseException | None:
    """``state.take()``, and if what it takes is a deadline's exception, that deadline has been raised.
    Call with ``state.lock`` held."""
    exc = state.take()
    expired = state.expired
    if exc is not None and expired is not None and exc is expired.exc:
        expired.stage = RAISED
    return exc


def postpone(exc: BaseException) -> bool:
    """Raise ``exc``, which a checkpoint of the calling thread was about to raise, at its next one.

    For a wait that succeeded at the very moment it was interrupted, and cannot be undone (a blocked
    ``put`` whose item was taken): it returns normally, and the interrupt lands at the next checkpoint.
    False where that cannot be: a thread without a ``ThreadState``, or Ctrl-C (raised now).
    """
    state = _local.state
    if state is None or isinstance(exc, KeyboardInterrupt):
        return False
    with state.lock:
        if state.pending is None or exc is state.killing:
            _set_pending(state, exc)
    return True


def kill(state: ThreadState, exc: BaseException, owner: object) -> bool:
    """Deliver ``exc`` to the greenthread ``owner`` running in ``state``'s thread, once.

    Blocked in a checkpoint: raised there, at once.  Busy elsewhere: raised asynchronously, at its next
    bytecode (CPython's ``PyThreadState_SetAsyncExc``; best effort, since a blocking C call is not
    interrupted), except while the thread executes threadevent's own code, whose bookkeeping must not
    be cut in half, and on CPython 3.13 and later (``ASYNC_KILLS``): then it stays pending for the next
    checkpoint.  One raised asynchronously is
    settled at the next checkpoint (``_settle``).  Returns whether the exception is still undelivered,
    and so worth another try: also when ``owner`` is not running in the thread (not yet, or no longer:
    the caller stops trying once it has ended).
    """
    with state.lock:
        if state.owner is not owner:
            return True
        if state.pending is not exc:
            if state.killing is exc:
                return False  # armed before, and raised at a checkpoint since: delivered
            _set_pending(state, exc)
            state.killing = exc
        parked = state.parked
        if parked is not None:
            release(parked)  # block() raises it as it wakes
            return False
        if not ASYNC_KILLS or _in_threadevent(state.ident):
            return True
        # Raised asynchronously: no longer pending, so that a deadline may still fire in the cleanup.
        # But the interpreter may raise it in a __del__ or a gc callback and drop it there: the next
        # checkpoint settles it (see ``_settle``).  All recorded before it is sent: this thread may
        # lose the GIL on the way, and the target raise it at once.
        state.take()
        state.async_kind = kind = _async_type(exc)
        state.async_sent = exc
        if state.unsettled is None:
            with _pending_lock:
                PENDING[0] += 1
        state.unsettled = exc
        _set_async_exc(state.ident, kind)
        return False


def _set_pending(state: ThreadState, exc: BaseException) -> None:
    if state.pending is None:
        with _pending_lock:
            PENDING[0] += 1
    state.pending = exc


def _in_threadevent(ident: int) -> bool:
    """Whether the thread is inside threadevent's own code right now, at any depth.

    Walking out from its innermost frame, the first frame of threadevent's tells: one that calls the
    user's code (``RUNNERS``: the greenthread runner, done-callbacks, links) means the thread is in
    that code (and what it calls); anything else means threadevent's bookkeeping is under way, perhaps
    inside a library it calls (``Thread.start``, whose new thread briefly shares the caller's id and
    would take the exception instead).
    """
    frame = _frame_of(ident)
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(_PACKAGE_DIR):
            return code not in RUNNERS
        frame = frame.f_back
    return False


def _frame_of(ident: int) -> Any:
    """The innermost frame of thread ``ident`` (None if it has ended).

    With the gc off, one call at a time: CPython may run the gc inside ``sys._current_frames()`` while
    it holds the runtime's lock on the thread list, and a finalizer that lets the GIL go there
    deadlocks with any thread that then wants that lock, another such call first (seen here on 3.11:
    a stack dump of a hung kill storm showed exactly that pair).
    """
    with _frames_lock:
        enabled = gc.isenabled()
        if enabled:
            gc.disable()
        try:
            return sys._current_frames().get(ident)
        finally:
            if enabled:
                gc.enable()


_frames_lock = allocate_lock()


#: The code of threadevent's functions that call the user's code, where that code may be interrupted.
RUNNERS: set[Any] = set()


def runs_user_code(func: _F) -> _F:
    """Mark ``func`` as calling the user's code: a kill may be raised asynchronously while it runs.

    Everywhere else in threadevent an asynchronous kill is held back for the next checkpoint, so that
    no bookkeeping is cut in half; a function marked so is written to unwind cleanly from an exception
    raised anywhere in it or in what it calls.
    """
    RUNNERS.add(func.__code__)
    return func


def _async_type(exc: BaseException) -> type[BaseException]:
    """The class to raise asynchronously for ``exc``: CPython raises a class, instantiated with no args.

    If ``exc``'s own class needs arguments, a subclass whose constructor passes ``exc``'s along stands
    in for it, so that ``except`` clauses for the class still catch it; GreenletExit if even that fails.
    """
    kind = type(exc)
    try:
        kind()
        return kind
    except Exception:
        pass
    args = exc.args

    def __init__(self: BaseException) -> None:
        kind.__init__(self, *args)

    stand_in: type[BaseException] = type(kind.__name__, (kind,), {"__init__": __init__})
    try:
        stand_in()
    except Exception:
        return GreenletExit
    return stand_in


def _set_async_exc(ident: int, kind: type[BaseException] | None) -> None:
    """Send ``kind`` to thread ``ident`` asynchronously; ``None``: withdraw from the calling thread (it
    must be ``ident``) one sent and not raised yet."""
    raise_async, clear_async = _async_api()
    if kind is not None:
        raise_async(ident, kind)
        return
    if ident != threading.get_ident():  # the replacement below would land in that thread, uncaught
        clear_async(ident, None)
        return
    # Not PyThreadState_SetAsyncExc(ident, NULL): up to 3.12 that sets the interpreter's "asynchronous
    # exception pending" flag even as it clears, and only raising one clears the flag again.  Left set,
    # every thread runs the interpreter's pending-work handler at every check from then on (loops ran
    # 3-17 % slower), and on 3.11 a call traced by sys.settrace (a debugger, coverage) spins for ever on
    # its first line.  So the pending exception, if any, is replaced with a private one, raised and
    # caught right here: the flag is cleared as it is raised.
    try:
        raise_async(ident, _Withdrawn)
        for _ in range(_WITHDRAW_CHECKS):  # a loop's back-edge checks for it
            pass
    except _Withdrawn:
        return
    clear_async(ident, None)  # never raised (no known version): better the flag than a stray exception


class _Withdrawn(BaseException):
    """Raised in its own thread by a withdrawal of an asynchronous kill, and caught at once."""


#: How many loop back-edges a withdrawal gives the interpreter to raise ``_Withdrawn`` (it takes one).
_WITHDRAW_CHECKS = 1000


@functools.cache
def _async_api() -> tuple[Any, Any]:
    import ctypes  # only the first kill of a busy greenthread pays for it

    api = ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
    raise_async = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(api)
    clear_async = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)(api)
    return raise_async, clear_async


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


#: How far down the chain of exceptions being handled (``__context__``) ``_settle`` looks for a kill.
_CONTEXT_DEPTH = 32


def _settle(state: ThreadState) -> BaseException | None:
    """At a checkpoint, after a kill was raised asynchronously: that kill if it is to raise here.

    Call with ``state.lock`` held.  If the function is handling the kill (an ``except`` or ``finally``
    block, cleaning up), it has been delivered: None.  Otherwise the interpreter either has not raised
    it yet, or raised it where exceptions are dropped (a ``__del__``, a gc callback, a weakref
    callback: CPython reports them to ``sys.unraisablehook``), or the function caught it and went on.
    The three cannot be told apart, and kill() waits for the function to end: the checkpoint raises
    it, after withdrawing any copy not raised yet.  Settled either way: it is raised once at most.
    """
    exc = _settled(state)
    handled = sys.exc_info()[1]
    kind = state.async_kind
    for _ in range(_CONTEXT_DEPTH):
        if handled is None:
            break
        if handled is exc or handled.__class__ is kind:
            return None
        handled = handled.__context__
    _set_async_exc(state.ident, None)
    return exc


def _settled(state: ThreadState) -> BaseException | None:
    """Remove and return the unsettled asynchronous kill.  Call with ``state.lock`` held."""
    exc = state.unsettled
    if exc is not None:
        state.unsettled = None
        with _pending_lock:  # inline, as in take(): no call (where an exception may land) in between
            PENDING[0] -= 1
    return exc


def check() -> None:
    """Raise the calling thread's pending interrupt, if it has one, or a deadline of its that has passed
    (the timer thread may be late to fire it)."""
    state = current_state()
    if state is None:
        return
    if state.pending is not None or state.unsettled is not None:
        with state.lock:
            exc = _settle(state) if state.unsettled is not None else None
            if exc is None:
                exc = _take(state)
    else:
        earliest = state.earliest
        if earliest is None or earliest > monotonic():
            return
        with state.lock:
            exc = _due(state)
    if exc is not None:
        raise exc


def block(lock: LockType, timeout: float) -> bool:
    """``lock.acquire(True, timeout)``, interruptible.

    Returns whether the lock was acquired.  Raises the thread's pending interrupt instead, whether it was
    pending before the call or arrived during it; the caller must be ready for an exception either way,
    as it must for KeyboardInterrupt in the main thread.  A True return may also come from an interrupt
    that was withdrawn before this thread woke: callers re-check their condition.

    A deadline of the thread's that has passed is raised here even if the timer thread has not fired
    it yet (it runs late on a loaded machine): before the wait, and when the wait ends, timed out or
    woken, exactly as if the timer had fired on time.  When no Timeout is armed that costs one
    attribute read.
    """
    state = _local.state
    if state is None:  # a plain thread that has never armed a Timeout nor been killed
        return lock.acquire() if timeout < 0.0 else lock.acquire(True, timeout)
    with state.lock:
        exc = _settle(state) if state.unsettled is not None else None
        if exc is None and (state.pending is not None or state.earliest is not None):
            exc = _due(state)
        if exc is None:
            state.parked = lock
    if exc is not None:
        raise exc
    try:
        acquired = lock.acquire(True, timeout)
    except BaseException:
        # KeyboardInterrupt in the main thread: that one wins, a pending interrupt stays for later.
        with state.lock:
            state.parked = None
        raise
    with state.lock:
        state.parked = None
        # Inline, no call unless there is something to look at: this is the end of every wait.
        exc = _due(state) if state.pending is not None or state.earliest is not None else None
    if exc is not None:
        raise exc
    return acquired

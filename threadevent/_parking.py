"""Parking: how every blocking primitive of threadevent puts a thread to sleep and wakes it again.

A ``ParkingLot`` is a FIFO of parked threads, each asleep on a lock of its own (its ``Ticket``).  It has
no lock of its own: it belongs to one primitive (a pool, a queue, a semaphore) and is changed only under
that primitive's lock, which the lot is given so that it can take it when a parked thread leaves early.
Parking is a checkpoint (``_checkpoint.block``): a kill or an expired Timeout of the parked thread wakes
it and raises there, after the lot has been put right.

The guarantee that makes the primitives short: a thread unparked at the very moment it is interrupted
does not lose what it was handed.  The lot passes it to the primitive's ``pass_on`` (a slot, a count, an
item goes to the next in line) before the interrupt propagates.

``Node`` is the specialised form that ``Event`` uses: a chain of waiters that a send detaches in O(1),
each woken waiter waking the next, so that ``send`` costs the same however many wait.
"""

from __future__ import annotations

from _thread import LockType, allocate_lock
from collections import deque
from collections.abc import Callable
from time import monotonic
from typing import Any

from threadevent._checkpoint import block, postpone, release
from threadevent._handoff import POLICY, spin

__all__ = ["Node", "ParkingLot", "Ticket"]

_new = object.__new__


class Ticket:
    """One parked thread: the lock it sleeps on (held until it is unparked), what it brought (``offer``,
    e.g. the item of a blocked ``put``), and what it was handed (``value``)."""

    __slots__ = ("lock", "offer", "unparked", "value")

    def __init__(self, offer: Any = None) -> None:
        self.lock = allocate_lock()
        self.lock.acquire()
        self.offer = offer
        self.unparked = False
        self.value: Any = None

    def woken(self) -> bool | None:
        """True once unparked, else None (what ``_handoff.spin`` looks for)."""
        return True if self.unparked else None


class ParkingLot:
    """Threads waiting for one primitive, first come first served.

    The primitive calls ``enqueue``, ``unpark``, ``unpark_newest`` and ``unpark_all`` with its lock held,
    and ``park`` without it.  When a thread is unparked at the moment it is interrupted, the wake-up is
    not lost: with ``pass_on``, the lot calls ``pass_on(value)`` (lock held), which hands ``value`` on,
    and the interrupt is raised; with ``keep``, the wake-up stands (``park`` returns True: whoever
    unparked it has completed its operation, e.g. taken a blocked ``put``'s item) and the interrupt is
    raised at the thread's next checkpoint instead.

    What it deliberately does not do: decide who deserves a wake-up, or count anything.  The primitive
    keeps its own state and says whom to wake; the lot only makes sure the wake-up is never lost.
    """

    __slots__ = ("_keep", "_lock", "_pass_on", "tickets")

    def __init__(
        self, lock: LockType, pass_on: Callable[[Any], object] | None = None, keep: bool = False
    ) -> None:
        self._lock = lock
        self._pass_on = pass_on
        self._keep = keep
        #: The parked threads' tickets, longest waiting first.  Read it (``if lot.tickets:``, lock held)
        #: where a call would cost too much: the fast paths of the primitives.  Never change it.
        self.tickets: deque[Ticket] = deque()

    def __len__(self) -> int:
        return len(self.tickets)

    def __bool__(self) -> bool:
        return bool(self.tickets)

    def enqueue(self, offer: Any = None) -> Ticket:
        """A place at the back of the line for the calling thread, bringing ``offer``; then release the
        lock and ``park``."""
        # Ticket's __init__ inline, a Python call saved: a blocked get or acquire wakes its waker's
        # thread before it blocks itself, and the sooner it blocks, the likelier the woken thread finds
        # the GIL free instead of sleeping once more for it (on several CPUs).
        ticket = _new(Ticket)
        ticket.lock = lock = allocate_lock()
        lock.acquire()
        ticket.offer = offer
        ticket.unparked = False
        ticket.value = None
        self.tickets.append(ticket)
        return ticket

    def unpark(self, value: Any = True) -> Ticket | None:
        """Wake the thread that has waited longest, handing it ``value``; its ticket (None if none waits)."""
        queue = self.tickets
        if not queue:
            return None
        ticket = queue.popleft()
        ticket.value = value
        ticket.unparked = True
        release(ticket.lock)  # an interrupt may have released it first: it checks ``unparked``
        return ticket

    def unpark_newest(self, value: Any = True) -> Ticket | None:
        """Wake the thread that parked last (the hub's idle workers: the others may time out)."""
        queue = self.tickets
        if not queue:
            return None
        ticket = queue.pop()
        ticket.value = value
        ticket.unparked = True
        release(ticket.lock)
        return ticket

    def unpark_all(self, value: Any = True) -> int:
        """Wake every parked thread; how many were."""
        count = len(self.tickets)
        while self.unpark(value):
            pass
        return count

    def park(self, ticket: Ticket, timeout: float = -1.0, interruptible: bool = True) -> bool:
        """Sleep until unparked (True; ``ticket.value`` is what it was handed) or ``timeout`` passes.

        ``timeout`` in seconds, ``-1`` for ever.  Interruptible: a checkpoint, which raises the thread's
        kill or expired Timeout; the ticket has then left the line, and a value handed to it in the
        meantime has gone to ``pass_on``.  Not interruptible: a plain wait (the hub's idle workers).
        """
        try:
            if not interruptible:
                unparked = ticket.lock.acquire(True, timeout)
            elif timeout != 0.0 and POLICY.yield_first():
                unparked = _spin_then_sleep(ticket, timeout)
            else:
                # Inline: this is every wait on several CPUs.  Only a timed wait pays for the clock.
                deadline = monotonic() + timeout if timeout >= 0.0 else -1.0
                unparked = block(ticket.lock, timeout) and (ticket.unparked or _sleep(ticket, deadline))
        except BaseException as exc:
            with self._lock:
                if not ticket.unparked:
                    self._leave(ticket)
                elif self._keep and postpone(exc):
                    return True
                elif self._pass_on is not None:
                    self._pass_on(ticket.value)
            raise
        if unparked:
            return True
        with self._lock:
            if ticket.unparked:
                return True  # unparked as the timeout passed: it counts
            self._leave(ticket)
            return False

    def _leave(self, ticket: Ticket) -> None:
        try:
            self.tickets.remove(ticket)
        except ValueError:
            pass  # an unparker was cut short (Ctrl-C) between taking it out and marking it: gone already


def _spin_then_sleep(ticket: Ticket, timeout: float) -> bool:
    """On one CPU: yield a few times first, so that the unparker finds the thread still runnable and a
    hand-off costs one context switch instead of three (see ``_handoff``)."""
    found, spent = spin(ticket.woken)
    if found:
        return True
    if timeout > 0.0:  # the yields count against the timeout
        timeout = max(timeout - spent, 0.0)
    deadline = monotonic() + timeout if timeout >= 0.0 else -1.0
    return block(ticket.lock, timeout) and (ticket.unparked or _sleep(ticket, deadline))


def _sleep(ticket: Ticket, deadline: float) -> bool:
    """Block on the ticket again after a spurious wake-up (an interrupt withdrawn before the thread ran)
    until it is unparked or ``deadline`` (``monotonic()``; -1: none) passes."""
    while True:
        timeout = -1.0
        if deadline >= 0.0:
            timeout = deadline - monotonic()
            if timeout <= 0.0:
                return False
        if not block(ticket.lock, timeout):
            return False
        if ticket.unparked:
            return True


class Node:
    """One blocked ``Event.wait``: the lock its thread sleeps on, and its place in the chain of waiters.

    The first waiter's node is also the chain: the waiters blocked on one send, a doubly-linked list from
    ``head`` to ``tail``, and once sent, that send's ``outcome``.  ``send`` detaches the chain from the
    event and wakes only its head; every woken waiter wakes the next one.  That keeps ``send`` O(1)
    however many wait, and gives each waiter the outcome of the send it was blocked on even if
    ``reset()`` and another ``send()`` follow before it runs.  While unsent, the chain is changed only
    under the event's lock; once sent, only ``send`` touches it, to drop ``head`` and ``tail``.

    One object rather than a chain object and a node: for the usual single waiter, each allocation is a
    measurable share of a hand-off between threads.  The chain's ``head`` and ``tail`` can point at
    itself; ``send`` clears them (the cascade follows ``next``), and the last waiter to leave unsent
    leaves them ``None``, so the reference cycle never outlives the wait.
    """

    __slots__ = ("count", "head", "lock", "next", "outcome", "prev", "tail")

    lock: LockType
    prev: Node | None
    next: Node | None
    head: Node | None
    tail: Node | None
    count: int
    outcome: Any

    def __init__(self) -> None:
        """A new chain, with the calling waiter as its one node; call with the event's lock held."""
        self.lock = lock = allocate_lock()
        lock.acquire()
        self.prev = self.next = None
        self.head = self.tail = self
        self.count = 1
        self.outcome = None

    def append(self) -> Node:
        """Queue one more waiter at the tail of this chain; call with the event's lock held."""
        node = Node.__new__(Node)
        node.lock = lock = allocate_lock()
        lock.acquire()
        tail = self.tail
        node.prev = tail
        node.next = None
        if tail is None:
            self.head = node
        else:
            tail.next = node
        self.tail = node
        self.count += 1
        return node

"""Pools of resources: eventlet's ``Pool`` and ``TokenPool``, on threads."""

from __future__ import annotations

from _thread import allocate_lock
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from threadevent._api import check_size
from threadevent._checkpoint import PENDING, check
from threadevent._parking import ParkingLot

__all__ = ["Pool", "Token", "TokenPool"]

_T = TypeVar("_T")


class Pool(Generic[_T]):
    """At most ``max_size`` items (connections, sessions), made on demand and handed out one per user.

    ``get()`` hands out a free item, or makes a new one with ``create()`` while fewer than ``max_size``
    exist, or else waits (a checkpoint: a kill or an expired Timeout reaches it) until ``put(item)``
    brings one back; ``item()`` does both around a ``with`` block.  Subclass and override ``create()``,
    or pass ``create``.  An exception from ``create()`` reaches the caller of ``get()`` and costs no
    slot.  Waiters are served in the order they came; an item handed to a waiter interrupted at that
    moment goes to the next one.

    What it deliberately does not do: check items (a broken connection put back is handed out again),
    or make them in the background.

    >>> pool = Pool(max_size=2, create=list)
    >>> with pool.item() as first:
    ...     first.append("used")
    >>> pool.get()                  # the same item again: made once, then reused
    ['used']
    >>> pool.free(), pool.current_size
    (1, 1)
    """

    def __init__(
        self,
        min_size: int = 0,
        max_size: int = 4,
        order_as_stack: bool = False,
        create: Callable[[], _T] | None = None,
    ) -> None:
        min_size = check_size(min_size, "min_size")
        self.max_size = check_size(max_size, "max_size")
        if create is not None and not callable(create):
            raise TypeError(f"create must be callable or None, not {type(create).__name__}")
        self.min_size = min_size
        self.order_as_stack = order_as_stack
        self._create = create
        #: Guards everything below; nothing blocks or calls ``create()`` while holding it.
        self._lock = allocate_lock()
        #: Items made (or being made) and not dropped: free ones, handed-out ones.
        self.current_size = 0
        self.free_items: deque[_T] = deque()
        #: Blocked getters; one handed an item (or a slot) as it is interrupted passes it on.
        self._getters = ParkingLot(self._lock, pass_on=self._pass_on)
        for _ in range(min_size):
            self.current_size += 1
            self.free_items.append(self.create())

    def create(self) -> _T:
        """Make a new item: ``create`` as given, or override this in a subclass."""
        if self._create is None:
            raise NotImplementedError("Pool.create(): pass create=... or override create() in a subclass")
        return self._create()

    def get(self) -> _T:
        """A free item, or a new one, or the first one put back (waiting for it: a checkpoint)."""
        if PENDING[0]:
            check()
        with self._lock:
            if self.free_items and not self._getters:
                return self.free_items.popleft()
            making = self.current_size < self.max_size
            if making:
                self.current_size += 1
            else:
                ticket = self._getters.enqueue()
        if making:
            return self._make()
        self._getters.park(ticket)
        if ticket.value is _MAKE:
            return self._make()
        return ticket.value  # type: ignore[no-any-return]

    def _make(self) -> _T:
        """``create()``, in the slot the caller counted; an exception gives the slot back."""
        try:
            return self.create()
        except BaseException:
            with self._lock:
                self.current_size -= 1
                self._slot_freed()
            raise

    def _slot_freed(self) -> None:
        """A slot came free (an item dropped, a create failed): the longest waiter may make one.  Lock
        held.  It is woken with no item, and makes one itself."""
        # Waiters wait only while nothing is free and the pool is at max_size, so one slot is one item.
        if self._getters and self.current_size < self.max_size:
            self.current_size += 1
            self._getters.unpark(_MAKE)

    def put(self, item: _T) -> None:
        """Bring ``item`` back: to the longest waiter, or among the free items (dropped if the pool has
        shrunk below its current size)."""
        with self._lock:
            if self.current_size > self.max_size:
                self.current_size -= 1
                return
            self._take_back(item)

    def _take_back(self, item: _T) -> None:
        """An item is free again: to the longest waiter, or among the free ones.  Lock held."""
        if self._getters.unpark(item) is None:
            if self.order_as_stack:
                self.free_items.appendleft(item)  # handed out next: the most recently used first
            else:
                self.free_items.append(item)

    def _pass_on(self, value: _T | _Make) -> None:
        """A waiter was handed ``value`` (an item, or a slot to make one in) as it was interrupted: the
        next waiter gets it.  Lock held."""
        if isinstance(value, _Make):
            self.current_size -= 1
            self._slot_freed()
        else:
            self._take_back(value)

    @contextmanager
    def item(self) -> Iterator[_T]:
        """``get()`` an item for the ``with`` block, and ``put()`` it back however the block ends."""
        obj = self.get()
        try:
            yield obj
        finally:
            self.put(obj)

    def resize(self, new_size: int) -> None:
        """Change ``max_size``.  Growing lets waiters make items at once; shrinking drops items as they
        come back until ``current_size`` fits."""
        size = check_size(new_size, "new_size")
        with self._lock:
            self.max_size = size
            while self._getters and self.current_size < size:
                self.current_size += 1
                self._getters.unpark(_MAKE)

    def free(self) -> int:
        """How many ``get()`` calls would not wait now: free items plus items still to be made."""
        return len(self.free_items) + self.max_size - self.current_size

    def waiting(self) -> int:
        """How many threads are blocked in ``get()``."""
        return len(self._getters)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} at {id(self):#x} max_size={self.max_size} "
            f"current_size={self.current_size} free={len(self.free_items)} waiting={len(self._getters)}>"
        )


class _Make:
    """What a waiter is handed when a slot (not an item) came free: it makes the item itself."""

    def __repr__(self) -> str:
        return "<make one>"


_MAKE = _Make()


class Token:
    """An item of a ``TokenPool``: nothing but itself."""


class TokenPool(Pool[Token]):
    """A pool of ``Token`` objects: a way to limit concurrency to ``max_size`` holders of a token."""

    def create(self) -> Token:
        return Token()

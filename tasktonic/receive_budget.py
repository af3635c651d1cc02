"""ReceiveBudget: receive-side back-pressure, the bytes handed to owners and not yet consumed.

Why: a socket or a serial line can deliver faster than the tonic that owns the bytes consumes
them, and every delivery is a queued sparkle holding its bytes. Without a bound a 100 MB stream
into a slow owner is 100 MB of queued orders. The reader (a connection on the selector
catalyst, a serial reader thread) ``charge``s what it hands over and stops reading while
``paused``; each delivery ``release``s its bytes once the owner's handler has run (raised or
not), and reading resumes when the pending bytes are down to half the budget (hysteresis, so a
reader does not flip on every chunk).

Deliveries go through the system sparkle ``_ttss__call`` of the owner's *catalyst*: a system
order is never dropped nor refused by a bounded catalyst, and the catalyst outlives the tonics
it hosts, so the delivery runs even when the owner has finished meanwhile (its handler is then
skipped with a debug line) and releases its bytes explicitly. Only a catalyst that has ended
drops it; the order then holds the last reference to its ``_Charge``, which releases itself
when it is freed. A free-threaded interpreter may free it much later (when the reader's thread
next runs Python code), so a paused reader whose owner has finished ``forgive``s what is
pending instead, and the late charges release nothing.

Counting is under a lock: the reader charges on its thread, owners release on theirs.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["ReceiveBudget", "DEFAULT_RECEIVE_BUDGET", "check_budget"]

#: Default receive budget of a TCP connection or a serial port, in bytes.
DEFAULT_RECEIVE_BUDGET = 1 << 20


def check_budget(budget: Any, what: str) -> int:
    """``budget`` as a positive int, else TypeError / ValueError naming ``what``."""
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise TypeError(f"tasktonic: receive_budget of {what} must be an int, got "
                        f"{type(budget).__name__}")
    if budget <= 0:
        raise ValueError(f"tasktonic: receive_budget of {what} must be > 0, got {budget}")
    return budget


class ReceiveBudget:
    """Pending bytes of one reader against its budget; ``resume`` is called on reopening."""

    __slots__ = ("budget", "_resume", "_lock", "_pending", "_high", "_open", "_epoch")

    def __init__(self, budget: int, resume: Callable[[], None] | None = None) -> None:
        self.budget = budget
        self._resume = resume
        self._lock = threading.Lock()
        self._pending = 0
        self._high = 0
        self._open = threading.Event()
        self._open.set()
        self._epoch = 0  # charges of an earlier epoch were forgiven: they release nothing

    @property
    def pending(self) -> int:
        """Bytes handed over and not yet consumed."""
        return self._pending

    @property
    def high_water(self) -> int:
        """The most bytes ever pending at once."""
        return self._high

    @property
    def paused(self) -> bool:
        """True while the reader must not read."""
        return not self._open.is_set()

    def wait_open(self, timeout: float) -> bool:
        """Block a reader thread until reading may go on (True) or ``timeout`` passed."""
        return self._open.wait(timeout)

    def charge(self, size: int) -> None:
        """``size`` bytes were handed over; pause once the budget is reached."""
        with self._lock:
            self._pending += size
            if self._pending > self._high:
                self._high = self._pending
            if self._pending >= self.budget:
                self._open.clear()

    def forgive(self) -> None:
        """The owner has finished: what it had pending will never be handled. Reopen; the
        charges still out release nothing when they are settled later."""
        with self._lock:
            self._epoch += 1
            self._pending = 0
            reopen = self.paused
            self._open.set()
        if reopen and self._resume is not None:
            self._resume()

    def release(self, size: int, epoch: int | None = None) -> None:
        """``size`` bytes were consumed; reopen (and call ``resume``) at half the budget."""
        with self._lock:
            if epoch is not None and epoch != self._epoch:
                return  # forgiven already
            self._pending -= size
            reopen = self.paused and self._pending <= self.budget // 2
            if reopen:
                self._open.set()
        if reopen and self._resume is not None:
            self._resume()

    def deliver(self, owner: Any, sparkle: Callable, *args: Any, size: int) -> None:
        """Queue ``sparkle(*args)`` (a sparkle method of ``owner``) as ``size`` charged bytes."""
        self.charge(size)
        owner.catalyst._ttss__call(self._run, owner, sparkle, args,
                                   _Charge(self, size, self._epoch))

    @staticmethod
    def _run(owner: Any, sparkle: Callable, args: tuple, charge: _Charge) -> None:
        # on the owner's catalyst: its handler for its state, traced, errors handled
        try:
            owner.run_sparkle_now(sparkle, *args)
        finally:
            charge.settle()


class _Charge:
    """The bytes of one delivery: released once, when run or when its dropped order is freed."""

    __slots__ = ("budget", "size", "epoch")
    _tt_by_reference = True  # crosses threads inside its order, never copied

    def __init__(self, budget: ReceiveBudget, size: int, epoch: int) -> None:
        self.budget: ReceiveBudget | None = budget
        self.size = size
        self.epoch = epoch

    def settle(self) -> None:
        budget, self.budget = self.budget, None
        if budget is not None:
            budget.release(self.size, self.epoch)

    __del__ = settle

"""Timers: essences that queue a sparkle on their tonic when they expire.

A timer belongs to the tonic that creates it (inside one of its sparkles or its ``__init__``,
or with ``tonic.bind(ttTimerRepeat, 1.0)``) and runs on that tonic's catalyst, whose timer heap
orders all its timers on the monotonic clock. When no ``sparkle_back`` is given the timer calls
the tonic's ``ttse__on_<name>``, ``ttse__on_tmr_<name>`` (for a timer given a name) or
``ttse__on_timer`` with ``info = {'id', 'name'[, 'marker']}``. A plain callable as
``sparkle_back`` is run as a sparkle of the tonic, never inside the loop's timer pass.

Start, stop, restart, pause, resume and ``change_timer`` may be called from any thread: off
the catalyst's thread they are queued to it, in the order called, so only that thread ever
touches its heap; a queued call that finds the timer (or its tonic) finished by then does
nothing. Once ``stop()``, ``restart()`` or ``pause()`` has returned on the catalyst's thread
(for a call from another thread: once the catalyst has processed it), a firing from before it
never reaches the callback, even when it was already queued (an *epoch* number tells old
firings from current ones). A single shot that has fired leaves the ledger and its tonic's
infusions (so fired shots cost no memory) and comes back on ``restart()``. A stopped timer
stays with its tonic, ready to restart (releasing it there would triple the cost of
stop/start); ``finish()`` a timeout that is no longer needed to release it; (re)starting a
timer whose tonic is finishing or has finished raises ``RuntimeError``, from any thread.

Periods are checked at creation and by ``change_timer``: NaN, infinite, negative or longer
than 100 years is a ``ValueError`` and leaves the timer (and its catalyst) as it was. A timer
whose ``__init__`` raises never fires, even if it had started; one that expires while its
``__init__`` still runs on another thread fires once that ``__init__`` has succeeded.
"""
from __future__ import annotations

import datetime as _dt
import math
import numbers
import threading
from collections.abc import Callable
from threading import get_ident
from time import monotonic
from typing import TYPE_CHECKING, Any

from . import lifecycle, schedule as _schedule
from .essence import LC_ACTIVE, ttEssence

if TYPE_CHECKING:  # tonic imports this module's siblings; only the checker needs the name
    from .tonic import ttTonic

__all__ = ["ttTimer", "ttTimerSingleShot", "ttTimerRepeat", "ttTimerPausing",
           "ttTimerScheduled", "ttTimerEveryYear", "ttTimerEveryMonth", "ttTimerEveryWeek",
           "ttTimerEveryDay", "ttTimerEveryHour", "ttTimerEveryMinute"]


#: The longest period a timer takes (100 years); longer ones are a mistake, not a plan.
MAX_PERIOD = 100 * 366 * 86400.0

#: Guards the hand-over of a firing that came while the timer was still being built.
_held_lock = threading.Lock()


class ttTimer(ttEssence):
    """Base of all timers: callback resolution, start/stop/restart, the heap handle."""

    _tt_force_stealth = True
    #: A timer is always created by a tonic (checked in ``__init__``): its base is that tonic.
    base: ttTonic

    def __init__(self, sparkle_back: Callable | None = None, marker: Any = None,
                 name: str | None = None, **kwargs: Any) -> None:
        if type(self) is ttTimer:
            raise TypeError("tasktonic: ttTimer is a base class; use ttTimerSingleShot, "
                            "ttTimerRepeat, ttTimerPausing or a ttTimerEvery... timer")
        user_named = name is not None
        super().__init__(name=name, **kwargs)
        base = self.base
        if base is None or not hasattr(base, "catalyst"):
            raise TypeError(f"tasktonic: {type(self).__name__} must be created by a tonic "
                            "(inside its sparkle or __init__, or with tonic.bind(...))")
        self.catalyst = base.catalyst
        loop = base.catalyst.sparkle_loop  # kept: start/stop are hot in timeout patterns
        self._tt_loop = loop
        self._tt_heap = loop.timers
        self.marker = marker
        self.expire = -1.0
        self.sparkle_back = self._tt_resolve_callback(sparkle_back, user_named)

    def _tt_resolve_callback(self, sparkle_back: Callable | None, user_named: bool) -> Callable:
        if sparkle_back is not None:
            if not callable(sparkle_back):
                raise TypeError(f"tasktonic: sparkle_back of timer {self.name!r} must be "
                                f"callable, got {type(sparkle_back).__name__}")
            return sparkle_back
        candidates = ["ttse__on_timer"]
        if user_named:
            key = self.name.strip().lower().replace(" ", "_")
            candidates[:0] = [f"ttse__on_{key}", f"ttse__on_tmr_{key}"]
        for attr in candidates:
            callback: Callable | None = getattr(self.base, attr, None)
            if callback is not None:
                return callback
        raise TypeError(f"tasktonic: tonic {self.base.name!r} has no {' or '.join(candidates)} "
                        f"for timer {self.name!r}; define one or pass sparkle_back=")

    # -- running -----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._tt_handle is not None

    def _tt_in_catalyst(self, method: Callable, *args: Any) -> bool:
        """Run ``method`` on the catalyst's thread: False if we are on it (the caller runs it
        now), else queue it there (in call order) and return True."""
        if self._tt_loop.thread_id == get_ident():
            return False
        self.base._ttss__call(self._tt_queued, method, args)
        return True

    def _tt_queued(self, method: Callable, args: tuple) -> None:
        """On the catalyst's thread: a call sent from another thread. Nothing is left to do
        for a timer that has finished meanwhile (its ``__init__`` raised, or its tonic is
        ending); raising here would only reach the tonic's error handling, never the caller."""
        if self._tt_lc >= lifecycle.LC_FINISHING or self.base._tt_lc >= lifecycle.LC_FINISHING:
            return
        method(*args)

    def _tt_check_startable(self) -> None:
        if self._tt_lc >= lifecycle.LC_FINISHING:
            raise RuntimeError(f"tasktonic: timer {self.name!r} has finished; create a new one")
        base = self.base
        if self._tt_lc == LC_ACTIVE and base._tt_lc >= lifecycle.LC_FINISHING:
            raise RuntimeError(f"tasktonic: cannot restart timer {self.name!r}: its tonic "
                               f"{base.name!r} is {lifecycle.Phase(base._tt_lc).name.lower()}")

    def start(self) -> ttTimer:
        """(Re)start the timer from now."""
        if self._tt_lc != LC_ACTIVE or self.base._tt_lc != LC_ACTIVE:
            self._tt_check_startable()
        if not self._tt_in_catalyst(self.start):
            if self._tt_detached:
                lifecycle.reattach(self)
                self._tt_detached = False
            self._tt_epoch += 1  # a firing from before this start is not delivered
            self._tt_schedule(self._tt_first_deadline(monotonic()))
        return self

    def stop(self) -> ttTimer:
        """Stop the timer; a stopped timer can be started again."""
        if not self._tt_in_catalyst(self.stop):
            self._tt_epoch += 1
            self._tt_cancel()
        return self

    def restart(self) -> ttTimer:
        """Stop and start again from now."""
        return self.start()

    def _tt_schedule(self, deadline: float) -> None:
        heap = self._tt_heap
        if self._tt_handle is not None:
            heap.cancel(self._tt_handle)
        self.expire = deadline
        self._tt_handle = heap.push(deadline, self)

    def _tt_cancel(self) -> None:
        if self._tt_handle is not None:
            self._tt_heap.cancel(self._tt_handle)
            self._tt_handle = None
        self.expire = -1.0

    def _tt_first_deadline(self, now: float) -> float:
        raise NotImplementedError

    def _tt_next_deadline(self, deadline: float, now: float) -> float | None:
        """The deadline after one that fired, or None to stay stopped."""
        return None

    def _tt_expire(self, now: float) -> None:
        """Called by the catalyst loop when the deadline has passed: queue the delivery."""
        deadline = self.expire
        self._tt_handle = None
        self.expire = -1.0
        if self._tt_lc == LC_ACTIVE:
            self.base._ttss__call(self._tt_deliver, self._tt_epoch, self._tt_info())
        elif not self._tt_hold(self._tt_epoch):
            return  # finished while its heap entry was left behind
        following = self._tt_next_deadline(deadline, now)
        if following is not None:
            self._tt_schedule(following)

    def _tt_info(self) -> dict:
        info = {"id": self.id, "name": self.name}
        if self.marker is not None:
            info["marker"] = self.marker
        return info

    def _tt_hold(self, epoch: int) -> bool:
        """Expired while not ACTIVE. Still being built (on another thread: started from there,
        the catalyst ran the start): keep the firing until ``__init__`` has succeeded, and
        return True. Finished: drop it, return False."""
        with _held_lock:
            if self._tt_lc == lifecycle.LC_INIT:
                self._tt_held = epoch
                return True
        if self._tt_lc == LC_ACTIVE:  # became active between the two looks
            self.base._ttss__call(self._tt_deliver, epoch, self._tt_info())
            return True
        return False

    def _tt_activated(self) -> None:
        super()._tt_activated()
        with _held_lock:
            epoch, self._tt_held = self._tt_held, None
        if epoch is not None:
            self.base._ttss__call(self._tt_deliver, epoch, self._tt_info())

    def _tt_deliver(self, epoch: int, info: dict) -> None:
        """On the tonic's thread: run the callback, unless stopped or restarted since firing."""
        if epoch != self._tt_epoch or self._tt_lc != LC_ACTIVE:
            return
        callback = self.sparkle_back
        try:
            if getattr(callback, "__self__", None) is self.base:
                self.base.run_sparkle_now(callback, info)
            else:
                callback(info)  # an error goes to the tonic's error handling, as a sparkle's
        finally:
            self._tt_release_if_idle()

    def _tt_release_if_idle(self) -> None:
        """A single shot that has fired and was not restarted leaves the ledger and its
        tonic's infusions."""
        if (self._tt_released_when_idle and self._tt_handle is None and not self._tt_detached
                and self._tt_lc == LC_ACTIVE):
            self._tt_detached = True
            lifecycle.detach(self)

    _tt_released_when_idle = False

    # class defaults, so that releasing works whenever __init__ raised
    _tt_handle: Any = None   # the heap entry while running
    _tt_epoch = 0            # bumped by start/stop/pause: older firings are ignored
    _tt_detached = False     # a fired single shot, out of the ledger until restarted
    _tt_held: int | None = None  # the epoch of a firing that came while still being built

    def _tt_releasing(self) -> None:
        self._tt_epoch += 1
        if self._tt_handle is not None:
            if self.catalyst.on_own_thread():
                self._tt_cancel()
            elif not self.catalyst.finished:
                self.catalyst._ttss__call(self._tt_cancel)
        super()._tt_releasing()


def _period(seconds: Any, minutes: Any, hours: Any, days: Any, timer: str) -> float:
    total = 0.0
    for label, value, scale in (("seconds", seconds, 1), ("minutes", minutes, 60),
                                ("hours", hours, 3600), ("days", days, 86400)):
        kind = type(value)
        if kind is not float and kind is not int and (
                isinstance(value, bool) or not isinstance(value, numbers.Real)):
            raise TypeError(f"tasktonic: {timer}({label}=...) must be a number, got "
                            f"{type(value).__name__} {value!r}")
        if value < 0:
            raise ValueError(f"tasktonic: {timer}({label}={value!r}) must not be negative")
        try:
            total += float(value) * scale
        except OverflowError:  # an int beyond any float: far beyond the limit too
            total = math.inf
    if not math.isfinite(total) or total > MAX_PERIOD:
        raise ValueError(f"tasktonic: {timer} period must be a finite number of seconds up to "
                         f"{MAX_PERIOD:.0f} (100 years), got {total!r}")
    return total


class _ttPeriodicTimer(ttTimer):
    def __init__(self, seconds: float = 0.0, minutes: float = 0.0, hours: float = 0.0,
                 days: float = 0.0, name: str | None = None,
                 sparkle_back: Callable | None = None, marker: Any = None,
                 **kwargs: Any) -> None:
        self.period = _period(seconds, minutes, hours, days, type(self).__name__)
        self._tt_check_period(self.period)
        super().__init__(sparkle_back=sparkle_back, marker=marker, name=name, **kwargs)
        self._tt_start_on_creation()

    def _tt_check_period(self, period: float) -> None:
        pass

    def _tt_start_on_creation(self) -> None:
        self.start()

    def _tt_first_deadline(self, now: float) -> float:
        return now + self.period

    def change_timer(self, seconds: float = 0.0, minutes: float = 0.0, hours: float = 0.0,
                     days: float = 0.0) -> _ttPeriodicTimer:
        """Set a new period; a running timer restarts with it. A bad period raises here, in
        the caller, and changes nothing."""
        period = _period(seconds, minutes, hours, days, type(self).__name__)
        self._tt_check_period(period)
        if not self._tt_in_catalyst(self._tt_change_period, period):
            self._tt_change_period(period)
        return self

    def _tt_change_period(self, period: float) -> None:
        self.period = period
        if self.running:
            self.restart()


class ttTimerSingleShot(_ttPeriodicTimer):
    """Fires once, ``period`` seconds after (re)start; once fired it is released until
    ``restart()``."""

    _tt_released_when_idle = True


class ttTimerRepeat(_ttPeriodicTimer):
    """Fires every ``period`` seconds; a late catalyst skips missed beats, it never bursts."""

    def _tt_check_period(self, period: float) -> None:
        if period <= 0:
            raise ValueError(f"tasktonic: {type(self).__name__} needs a period > 0")

    def _tt_next_deadline(self, deadline: float, now: float) -> float:
        following = deadline + self.period
        return following if following > now else now + self.period


class ttTimerPausing(ttTimerRepeat):
    """A repeating timer that can pause and resume where it left off."""

    def __init__(self, seconds: float = 0.0, minutes: float = 0.0, hours: float = 0.0,
                 days: float = 0.0, name: str | None = None,
                 sparkle_back: Callable | None = None, start_paused: bool = False,
                 **kwargs: Any) -> None:
        self._tt_remaining: float | None = None
        self._tt_start_paused = start_paused
        super().__init__(seconds, minutes, hours, days, name=name, sparkle_back=sparkle_back,
                         **kwargs)

    def _tt_start_on_creation(self) -> None:
        if self._tt_start_paused:
            self._tt_remaining = self.period
        else:
            self.start()

    @property
    def paused(self) -> bool:
        return self._tt_remaining is not None

    def pause(self) -> ttTimerPausing:
        """Stop, remembering the time left until the next beat."""
        if not self._tt_in_catalyst(self.pause) and self.running:
            self._tt_remaining = max(0.0, self.expire - monotonic())
            self._tt_epoch += 1
            self._tt_cancel()
        return self

    def resume(self) -> ttTimerPausing:
        """Go on with the time that was left when paused."""
        if not self._tt_in_catalyst(self.resume) and self._tt_remaining is not None:
            remaining, self._tt_remaining = self._tt_remaining, None
            self._tt_schedule(monotonic() + remaining)
        return self

    def start(self) -> ttTimerPausing:
        super().start()  # off the catalyst's thread: queued, and this runs again there
        if self.catalyst.on_own_thread():
            self._tt_remaining = None
        return self


class ttTimerScheduled(ttTimer):
    """Fires at wall-clock times given by a ``schedule.Schedule``.

    The next trigger is computed on the wall clock and turned into a monotonic deadline;
    after each firing it is computed again, so clock changes and DST are absorbed.
    """

    def __init__(self, schedule: _schedule.Schedule, name: str | None = None,
                 sparkle_back: Callable | None = None, marker: Any = None,
                 **kwargs: Any) -> None:
        if not isinstance(schedule, _schedule.Schedule):
            raise TypeError(f"tasktonic: {type(self).__name__} needs a Schedule, got "
                            f"{type(schedule).__name__}")
        self.schedule = schedule
        self.next_trigger_time: _dt.datetime | None = None
        super().__init__(sparkle_back=sparkle_back, marker=marker, name=name, **kwargs)
        self.start()

    def _tt_first_deadline(self, now: float) -> float:
        wall = _dt.datetime.now()
        after = wall if self.next_trigger_time is None else max(wall, self.next_trigger_time)
        self.next_trigger_time = self.schedule.next_after(after)
        return now + max(0.0, self.next_trigger_time.timestamp() - wall.timestamp())

    def _tt_next_deadline(self, deadline: float, now: float) -> float:
        return self._tt_first_deadline(now)


class _ttTimerEvery(ttTimerScheduled):
    """A scheduled timer named by its period; keywords as in ``schedule.every_<unit>``."""

    _tt_schedule_factory: Callable[..., _schedule.Schedule]

    def __init__(self, name: str | None = None, *, sparkle_back: Callable | None = None,
                 marker: Any = None, context: Any = None, log_mode: Any = None,
                 **when: Any) -> None:
        super().__init__(type(self)._tt_schedule_factory(**when), name=name,
                         sparkle_back=sparkle_back, marker=marker, context=context,
                         log_mode=log_mode)


class ttTimerEveryYear(_ttTimerEvery):
    """Once a year: ``month``, ``day`` (or ``week``/``in_week``), ``hour``, ``minute``..."""

    _tt_schedule_factory = staticmethod(_schedule.every_year)


class ttTimerEveryMonth(_ttTimerEvery):
    """Once a month: ``day`` of the month (or weekday + ``in_week``) at a time."""

    _tt_schedule_factory = staticmethod(_schedule.every_month)


class ttTimerEveryWeek(_ttTimerEvery):
    """Once a week: ``day`` (0=Monday or 'mon'...) at a time."""

    _tt_schedule_factory = staticmethod(_schedule.every_week)


class ttTimerEveryDay(_ttTimerEvery):
    """Every day at ``hour``:``minute``:``second`` (or ``time_str='06:30'``)."""

    _tt_schedule_factory = staticmethod(_schedule.every_day)


class ttTimerEveryHour(_ttTimerEvery):
    """Every hour (``every=n`` hours) at ``minute``:``second``."""

    _tt_schedule_factory = staticmethod(_schedule.every_hour)


class ttTimerEveryMinute(_ttTimerEvery):
    """Every minute (``every=15``: on the quarter) at ``second``."""

    _tt_schedule_factory = staticmethod(_schedule.every_minute)

"""Calendar arithmetic for scheduled (wall-clock) timers.

An interval timer fires every N seconds of elapsed time; a *scheduled* timer fires at clock
times: every day at 06:30, every Monday at 08:00, on the last Friday of each month, every
15 minutes on the quarter hour. This module answers the one question such a timer needs:
"given the current wall-clock time, when is the next trigger?" (:meth:`Schedule.next_after`).

It is deliberately pure: no threads, no timers, no framework imports, stdlib only. The timer
classes turn the answer into a delay on the monotonic clock and recompute it from the current
wall-clock time after every firing, so clock adjustments and DST changes are absorbed at the
next firing instead of accumulating drift.

Wall-clock semantics
--------------------
All arithmetic is done on the wall-clock fields of ``now`` (its ``tzinfo``, if any, is put
back on the result unchanged), so "every day at 06:30" stays at 06:30 across DST changes.
Consequences the caller should know about:

* in a spring-forward gap the returned time may not exist (e.g. 02:30); ``.timestamp()``
  maps it to the instant just after the gap, so the trigger fires once, late by the gap;
* in a fall-back fold each wall-clock time triggers once: if ``now`` is in the repeated
  hour with ``fold=1``, a result on the same date carries ``fold=1`` so it designates the
  second occurrence (otherwise ``.timestamp()`` of the result would lie in the past and a
  timer would spin); sub-hour schedules therefore do not fire a second time for the
  repeated hour.
"""
from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass
from datetime import MAXYEAR, MINYEAR, date, datetime, time, timedelta

__all__ = [
    "UNITS",
    "Schedule",
    "parse_time_str",
    "every_year",
    "every_month",
    "every_week",
    "every_day",
    "every_hour",
    "every_minute",
]

#: The recurrence units a :class:`Schedule` accepts, coarsest first.
UNITS = ("year", "month", "week", "day", "hour", "minute")

# How many years ahead next_after looks before giving up. Eight covers every gap a valid
# schedule can have: Feb 29 across a skipped century leap year (2096 -> 2104) and the
# longest run of ISO years without a week 53 (at most 6 years).
_SEARCH_YEARS = 8

_WEEKDAY_NAMES = {
    "mon": 0, "monday": 0,
    "tue": 1, "tues": 1, "tuesday": 1,
    "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3,
    "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5,
    "sun": 6, "sunday": 6,
}

# Longest possible length of each month (February counts its leap day).
_MONTH_MAX_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# Fields each unit may set; every other optional field must be left as None.
_ALLOWED = {
    "year": frozenset(("month", "week", "day", "in_week", "hour", "minute", "second")),
    "month": frozenset(("day", "in_week", "hour", "minute", "second")),
    "week": frozenset(("day", "hour", "minute", "second")),
    "day": frozenset(("hour", "minute", "second")),
    "hour": frozenset(("minute", "second")),
    "minute": frozenset(("second",)),
}
_OPTIONAL_FIELDS = ("month", "week", "day", "in_week", "hour", "minute", "second")

_TIME_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
_MINUTE_RE = re.compile(r"([0-9]{1,2})?:([0-9]{2})")


def parse_time_str(time_str: str) -> tuple[int, int, int | None]:
    """Parse ``"HH:MM"`` or ``"HH:MM:SS"`` (24-hour clock) into ``(hour, minute, second)``.

    The hour may have one or two digits ("6:30"); minutes and seconds have exactly two.
    ``second`` is ``None`` when the string has no seconds part (callers treat it as 0).
    Raises ``TypeError`` for a non-string and ``ValueError`` naming the string for anything
    else, including out-of-range values such as "24:00" or "12:60".
    """
    if not isinstance(time_str, str):
        raise TypeError(f"time_str must be a str, got {time_str!r} ({type(time_str).__name__})")
    match = _TIME_RE.fullmatch(time_str)
    if match is not None:
        hour, minute = int(match[1]), int(match[2])
        second = None if match[3] is None else int(match[3])
        if hour <= 23 and minute <= 59 and (second is None or second <= 59):
            return hour, minute, second
    raise ValueError(f"invalid time string {time_str!r}: expected 'HH:MM' or 'HH:MM:SS' "
                     f"between 00:00:00 and 23:59:59")


def _parse_minute_str(time_str: str) -> tuple[int, int]:
    """Parse the hour-level ``"MM:SS"`` or ``":MM"`` form into ``(minute, second)``."""
    if not isinstance(time_str, str):
        raise TypeError(f"time_str must be a str, got {time_str!r} ({type(time_str).__name__})")
    match = _MINUTE_RE.fullmatch(time_str)
    if match is not None:
        if match[1] is None:  # ":MM"
            minute, second = int(match[2]), 0
        else:                 # "MM:SS"
            minute, second = int(match[1]), int(match[2])
        if minute <= 59 and second <= 59:
            return minute, second
    raise ValueError(f"invalid time string {time_str!r} for an hourly schedule: expected "
                     f"'MM:SS' or ':MM' with minutes and seconds in 00..59")


def _check_int(name: str, value: object, lo: int, hi: int) -> int:
    # bool is an int subclass but never a meaningful clock field.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"Schedule.{name} must be an int, got {value!r} "
                        f"({type(value).__name__})")
    if not lo <= value <= hi:
        raise ValueError(f"Schedule.{name} must be in {lo}..{hi}, got {value!r}")
    return value


def _check_second(value: object) -> float | int:
    """``second`` may carry a fraction (``second=12.5``): a number in [0, 60)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"Schedule.second must be a number, got {value!r} "
                        f"({type(value).__name__})")
    if not 0 <= value < 60:  # also refuses NaN
        raise ValueError(f"Schedule.second must be in [0, 60), got {value!r}")
    return value


def _split_second(second: float | int) -> tuple[int, int]:
    """Whole seconds and microseconds of a (possibly fractional) ``second``."""
    whole = int(second)
    return whole, min(999_999, round((second - whole) * 1_000_000))


def _check_weekday(value: object) -> int:
    if isinstance(value, str):
        weekday = _WEEKDAY_NAMES.get(value.strip().lower())
        if weekday is None:
            raise ValueError(f"Schedule.day must be a weekday 0..6 (0=Monday) or a weekday "
                             f"name such as 'mon' or 'monday', got {value!r}")
        return weekday
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"Schedule.day must be an int weekday (0=Monday) or a weekday name, "
                        f"got {value!r} ({type(value).__name__})")
    if not 0 <= value <= 6:
        raise ValueError(f"Schedule.day must be a weekday in 0..6 (0=Monday), got {value!r}")
    return value


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date | None:
    """The ``n``-th ``weekday`` of a month (``n < 0`` counts from the end), or None."""
    length = calendar.monthrange(year, month)[1]
    if n > 0:
        dom = 1 + (weekday - date(year, month, 1).weekday()) % 7 + 7 * (n - 1)
    else:
        dom = length - (date(year, month, length).weekday() - weekday) % 7 - 7 * (-n - 1)
    return date(year, month, dom) if 1 <= dom <= length else None


@dataclass(frozen=True)
class Schedule:
    """A recurring wall-clock time; :meth:`next_after` gives the next trigger.

    ``unit`` is one of :data:`UNITS`; the other fields are keyword-only and each unit
    accepts only the fields that make sense for it (setting another raises ``ValueError``):

    ``"minute"``
        ``second`` of every minute whose number is a multiple of ``every``
        (``every=15`` -> :00, :15, :30, :45). ``every`` must divide 60.
    ``"hour"``
        ``minute``:``second`` of every hour whose number is a multiple of ``every``
        (``every=6`` -> 00, 06, 12, 18). ``every`` must divide 24.
    ``"day"``
        ``hour``:``minute``:``second`` every day.
    ``"week"``
        that time on weekday ``day`` (0=Monday..6=Sunday or a name such as ``"fri"``;
        default Monday).
    ``"month"``
        that time on day of month ``day`` (1..31, default 1; months too short are
        skipped), or, when ``in_week`` is set, on the ``in_week``-th weekday ``day`` of the
        month (``in_week=1`` first, ``-1`` last, range -5..-1, 1..5).
    ``"year"``
        like ``"month"`` but only in ``month`` (default January); or, with ``week`` set
        (ISO week 1..53, not combinable with ``month``/``in_week``), on weekday ``day`` of
        that ISO week. Feb 29 fires in leap years only.

    Unset time fields and defaults are normalised on construction (``hour`` etc. become 0,
    weekday names become ints), so equal schedules compare equal. ``every`` must be 1 for
    units of a day and longer. Wrong types raise ``TypeError``, out-of-range values and
    dates that can never occur (e.g. February 30) raise ``ValueError``.
    """

    unit: str
    _: KW_ONLY
    month: int | None = None
    day: int | str | None = None
    week: int | None = None
    in_week: int | None = None
    hour: int | None = None
    minute: int | None = None
    second: float | None = None
    every: int = 1

    def __post_init__(self) -> None:
        unit = self.unit
        if not isinstance(unit, str):
            raise TypeError(f"Schedule.unit must be a str, got {unit!r} "
                            f"({type(unit).__name__})")
        if unit not in UNITS:
            raise ValueError(f"Schedule.unit must be one of {', '.join(UNITS)}; got {unit!r}")
        allowed = _ALLOWED[unit]
        for name in _OPTIONAL_FIELDS:
            value = getattr(self, name)
            if value is not None and name not in allowed:
                raise ValueError(f"Schedule.{name} does not apply to unit {unit!r} "
                                 f"(got {name}={value!r})")

        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        every = _check_int("every", self.every, 1, 60)
        if unit == "minute" and 60 % every:
            raise ValueError(f"Schedule.every must divide 60 for unit 'minute' so the slots "
                             f"align with the hour, got {every!r}")
        if unit == "hour" and 24 % every:
            raise ValueError(f"Schedule.every must divide 24 for unit 'hour' so the slots "
                             f"align with the day, got {every!r}")
        if unit not in ("minute", "hour") and every != 1:
            raise ValueError(f"Schedule.every must be 1 for unit {unit!r}, got {every!r}")

        for name, hi in (("hour", 23), ("minute", 59)):
            if name in allowed:
                value = getattr(self, name)
                put(name, 0 if value is None else _check_int(name, value, 0, hi))
        if "second" in allowed:
            put("second", 0 if self.second is None else _check_second(self.second))

        if unit in ("week", "month", "year"):
            if self.week is not None:
                _check_int("week", self.week, 1, 53)
                for other in ("month", "in_week"):
                    if getattr(self, other) is not None:
                        raise ValueError(f"Schedule.week cannot be combined with {other} "
                                         f"(got week={self.week!r}, "
                                         f"{other}={getattr(self, other)!r})")
            if self.in_week is not None:
                in_week = _check_int("in_week", self.in_week, -5, 5)
                if in_week == 0:
                    raise ValueError("Schedule.in_week must be 1..5 (n-th weekday) or "
                                     "-5..-1 (counted from the end of the month), got 0")
            if unit == "year" and self.week is None:
                put("month", 1 if self.month is None else _check_int("month", self.month, 1, 12))

            if unit == "week" or self.in_week is not None or self.week is not None:
                # ``day`` is a weekday.
                put("day", 0 if self.day is None else _check_weekday(self.day))
            else:
                # ``day`` is a day of the month.
                day = self.day
                if day is None:
                    day = 1
                elif isinstance(day, str):
                    raise TypeError(f"Schedule.day must be an int day of month (1..31) when "
                                    f"in_week is not given, got {day!r} (str); set in_week "
                                    f"to use a weekday name")
                day = _check_int("day", day, 1, 31)
                # (unit "year" without week: month was normalised to an int above)
                if (unit == "year" and self.month is not None
                        and day > _MONTH_MAX_DAYS[self.month - 1]):
                    raise ValueError(f"Schedule.day={day!r} never occurs in "
                                     f"month={self.month!r}; the schedule would never fire")
                put("day", day)

    # -- next trigger ------------------------------------------------------------------

    def next_after(self, now: datetime) -> datetime:
        """Return the first trigger time strictly after ``now``.

        ``now`` may be naive (local time) or aware; the result has the same ``tzinfo``, and
        microseconds only from a fractional ``second``. Raises ``ValueError`` if no trigger
        exists within ``_SEARCH_YEARS`` years or before ``datetime.max``.
        """
        if not isinstance(now, datetime):
            raise TypeError(f"now must be a datetime.datetime, got {now!r} "
                            f"({type(now).__name__})")
        base = now.replace(tzinfo=None, fold=0)
        try:
            wall = self._next_wall(base)
        except OverflowError:
            wall = None
        if wall is None:
            raise ValueError(f"{self!r} has no trigger time after {now.isoformat()} within "
                             f"{_SEARCH_YEARS} years (or before year {MAXYEAR})")
        fold = now.fold if wall.date() == base.date() else 0
        return wall.replace(tzinfo=now.tzinfo, fold=fold)

    # After __post_init__ the fields a unit uses are never None and ``day`` is an int;
    # these accessors state that for the type checker.
    def _n_second(self) -> float:
        assert self.second is not None
        return self.second

    def _n_hour(self) -> int:
        assert self.hour is not None
        return self.hour

    def _n_minute(self) -> int:
        assert self.minute is not None
        return self.minute

    def _n_day(self) -> int:
        assert isinstance(self.day, int)
        return self.day

    def _n_month(self) -> int:
        assert self.month is not None
        return self.month

    def _next_wall(self, base: datetime) -> datetime | None:
        unit = self.unit
        second, micro = _split_second(self._n_second())
        if unit == "minute":
            step = self.every
            cand = base.replace(minute=base.minute - base.minute % step, second=second,
                                microsecond=micro)
            while cand <= base:
                cand += timedelta(minutes=step)
            return cand
        if unit == "hour":
            step = self.every
            cand = base.replace(hour=base.hour - base.hour % step, minute=self._n_minute(),
                                second=second, microsecond=micro)
            while cand <= base:
                cand += timedelta(hours=step)
            return cand
        at = time(self._n_hour(), self._n_minute(), second, micro)
        if unit == "day":
            cand = datetime.combine(base.date(), at)
            return cand if cand > base else cand + timedelta(days=1)
        for day in self._dates_from(base.date()):
            cand = datetime.combine(day, at)
            if cand > base:
                return cand
        return None

    def _dates_from(self, start: date) -> Iterator[date]:
        """Matching dates in increasing order, from around ``start`` for a bounded span."""
        if self.unit == "week":
            first = start + timedelta(days=(self._n_day() - start.weekday()) % 7)
            yield first
            yield first + timedelta(days=7)
            return
        if self.unit == "month":
            year, month = start.year, start.month
            for _ in range(12 * _SEARCH_YEARS + 1):
                found = self._date_in_month(year, month)
                if found is not None:
                    yield found
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
                if year > MAXYEAR:
                    return
            return
        # "year": start one year early, since an ISO week of the previous ISO year can
        # still lie in January of start's year.
        for year in range(max(MINYEAR, start.year - 1),
                          min(MAXYEAR, start.year + _SEARCH_YEARS) + 1):
            if self.week is not None:
                try:
                    yield date.fromisocalendar(year, self.week, self._n_day() + 1)
                except ValueError:  # no week 53 that year, or beyond date.max
                    continue
            else:
                found = self._date_in_month(year, self._n_month())
                if found is not None:
                    yield found

    def _date_in_month(self, year: int, month: int) -> date | None:
        day = self._n_day()
        if self.in_week is not None:
            return _nth_weekday(year, month, day, self.in_week)
        if day <= calendar.monthrange(year, month)[1]:
            return date(year, month, day)
        return None


# -- convenience constructors (the predecessor's timer signatures) -------------------------

def _hms(hour: int, minute: int, second: float,
         time_str: str | None) -> tuple[int, int, float]:
    if time_str is None:
        return hour, minute, second
    h, m, s = parse_time_str(time_str)
    return h, m, 0 if s is None else s


def every_year(month: int | None = None, week: int | None = None, day: int | str | None = None,
               in_week: int | None = None, hour: int = 0, minute: int = 0, second: float = 0,
               time_str: str | None = None) -> Schedule:
    """Yearly: on ``month``/``day`` (defaults January 1st), on the ``in_week``-th weekday
    ``day`` of ``month``, or on weekday ``day`` of ISO ``week``.

    ``time_str`` ("HH:MM[:SS]"), when given, overrides ``hour``/``minute``/``second``.
    """
    hour, minute, second = _hms(hour, minute, second, time_str)
    return Schedule("year", month=month, week=week, day=day, in_week=in_week,
                    hour=hour, minute=minute, second=second)


def every_month(day: int | str | None = None, in_week: int | None = None, hour: int = 0,
                minute: int = 0, second: float = 0, time_str: str | None = None) -> Schedule:
    """Monthly: on day of month ``day`` (default 1; months without it are skipped), or with
    ``in_week`` on the ``in_week``-th weekday ``day`` (``in_week=-1``: last).

    ``time_str`` ("HH:MM[:SS]"), when given, overrides ``hour``/``minute``/``second``.
    """
    hour, minute, second = _hms(hour, minute, second, time_str)
    return Schedule("month", day=day, in_week=in_week, hour=hour, minute=minute, second=second)


def every_week(day: int | str | None = None, hour: int = 0, minute: int = 0, second: float = 0,
               time_str: str | None = None) -> Schedule:
    """Weekly on weekday ``day`` (0=Monday..6=Sunday or a name like "fri"; default Monday).

    ``time_str`` ("HH:MM[:SS]"), when given, overrides ``hour``/``minute``/``second``.
    """
    hour, minute, second = _hms(hour, minute, second, time_str)
    return Schedule("week", day=day, hour=hour, minute=minute, second=second)


def every_day(hour: int = 0, minute: int = 0, second: float = 0,
              time_str: str | None = None) -> Schedule:
    """Daily at ``hour``:``minute``:``second``.

    ``time_str`` ("HH:MM[:SS]"), when given, overrides ``hour``/``minute``/``second``.
    """
    hour, minute, second = _hms(hour, minute, second, time_str)
    return Schedule("day", hour=hour, minute=minute, second=second)


def every_hour(minute: int = 0, second: float = 0, time_str: str | None = None,
               every: int = 1) -> Schedule:
    """Hourly at ``minute``:``second``; with ``every=k`` (dividing 24) only in hours that are
    multiples of k.

    ``time_str``, when given, overrides ``minute``/``second`` and is hour-level: "MM:SS"
    (e.g. "05:30" = minute 5, second 30) or ":MM" (e.g. ":05" = minute 5, second 0).
    """
    if time_str is not None:
        minute, second = _parse_minute_str(time_str)
    return Schedule("hour", minute=minute, second=second, every=every)


def every_minute(second: float = 0, every: int = 1) -> Schedule:
    """Every minute at ``second``; with ``every=k`` (dividing 60) only in minutes that are
    multiples of k (``every=15`` -> on the quarter hour)."""
    return Schedule("minute", second=second, every=every)

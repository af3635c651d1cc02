"""Tests for tasktonic.schedule: pure calendar arithmetic, deterministic datetimes only."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from tasktonic import ttTimerEveryMinute, ttTonic
from tasktonic.schedule import (
    UNITS,
    Schedule,
    every_day,
    every_hour,
    every_minute,
    every_month,
    every_week,
    every_year,
    parse_time_str,
)
from tests.conftest import run_app

D = datetime


# -- parse_time_str ----------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("06:30", (6, 30, None)),
    ("6:30", (6, 30, None)),
    ("00:00", (0, 0, None)),
    ("23:59:59", (23, 59, 59)),
    ("06:30:15", (6, 30, 15)),
])
def test_parse_time_str_valid(text, expected):
    assert parse_time_str(text) == expected


@pytest.mark.parametrize("text", [
    "25:00", "24:00", "12:60", "12:00:60", "ab", "6:3x", "6:3", "", "12", "12:00:00:00",
    " 12:00", "12:00 ", "-1:00", "123:00", "12:0a", "１２:００",
])
def test_parse_time_str_invalid_names_the_string(text):
    with pytest.raises(ValueError) as info:
        parse_time_str(text)
    assert repr(text) in str(info.value)


def test_parse_time_str_type_error():
    with pytest.raises(TypeError, match="time_str"):
        parse_time_str(630)  # type: ignore[arg-type]


# -- minute unit -------------------------------------------------------------------------

def test_every_minute_default():
    s = every_minute()
    assert s.next_after(D(2024, 5, 1, 10, 7, 30)) == D(2024, 5, 1, 10, 8, 0)
    assert s.next_after(D(2024, 5, 1, 10, 8, 0)) == D(2024, 5, 1, 10, 9, 0)


def test_every_minute_at_second():
    s = every_minute(second=30)
    assert s.next_after(D(2024, 5, 1, 10, 7, 10)) == D(2024, 5, 1, 10, 7, 30)
    assert s.next_after(D(2024, 5, 1, 10, 7, 30)) == D(2024, 5, 1, 10, 8, 30)


def test_every_15_minutes_on_the_quarter():
    s = every_minute(every=15)
    assert s == Schedule("minute", every=15, second=0)
    assert s.next_after(D(2024, 5, 1, 10, 7, 30)) == D(2024, 5, 1, 10, 15, 0)
    assert s.next_after(D(2024, 5, 1, 10, 15, 0)) == D(2024, 5, 1, 10, 30, 0)  # strictly after
    assert s.next_after(D(2024, 5, 1, 10, 14, 59, 999999)) == D(2024, 5, 1, 10, 15, 0)
    assert s.next_after(D(2024, 5, 1, 10, 15, 0, 1)) == D(2024, 5, 1, 10, 30, 0)
    assert s.next_after(D(2024, 5, 1, 10, 50)) == D(2024, 5, 1, 11, 0, 0)
    assert s.next_after(D(2024, 5, 1, 23, 45)) == D(2024, 5, 2, 0, 0, 0)


def test_every_minute_year_end_rollover():
    assert every_minute(every=5).next_after(D(2023, 12, 31, 23, 59, 59)) == D(2024, 1, 1)


# -- hour unit ---------------------------------------------------------------------------

def test_every_hour():
    s = every_hour(minute=30)
    assert s.next_after(D(2024, 5, 1, 10, 7)) == D(2024, 5, 1, 10, 30)
    assert s.next_after(D(2024, 5, 1, 10, 30)) == D(2024, 5, 1, 11, 30)
    assert s.next_after(D(2024, 5, 1, 23, 31)) == D(2024, 5, 2, 0, 30)


def test_every_6_hours():
    s = every_hour(every=6)
    assert s.next_after(D(2024, 5, 1, 0, 0)) == D(2024, 5, 1, 6, 0)
    assert s.next_after(D(2024, 5, 1, 5, 59, 59)) == D(2024, 5, 1, 6, 0)
    assert s.next_after(D(2024, 5, 1, 13, 0)) == D(2024, 5, 1, 18, 0)
    assert s.next_after(D(2024, 5, 1, 18, 0)) == D(2024, 5, 2, 0, 0)
    s = every_hour(minute=10, second=5, every=6)
    assert s.next_after(D(2024, 5, 1, 6, 10, 4)) == D(2024, 5, 1, 6, 10, 5)
    assert s.next_after(D(2024, 5, 1, 6, 10, 5)) == D(2024, 5, 1, 12, 10, 5)
    assert s.next_after(D(2023, 12, 31, 18, 11)) == D(2024, 1, 1, 0, 10, 5)


def test_every_hour_time_str():
    assert every_hour(time_str="05:30") == every_hour(minute=5, second=30)
    assert every_hour(time_str=":45") == every_hour(minute=45)
    assert every_hour(minute=1, second=2, time_str=":07") == every_hour(minute=7, second=0)
    for bad in ("60:00", "05:60", ":60", "5", "ab", "1:2:3", ""):
        with pytest.raises(ValueError) as info:
            every_hour(time_str=bad)
        assert repr(bad) in str(info.value)


# -- day unit ----------------------------------------------------------------------------

def test_every_day():
    s = every_day(6, 30)
    assert s.next_after(D(2024, 5, 1, 6, 0)) == D(2024, 5, 1, 6, 30)
    assert s.next_after(D(2024, 5, 1, 6, 30)) == D(2024, 5, 2, 6, 30)
    assert s.next_after(D(2024, 2, 28, 7)) == D(2024, 2, 29, 6, 30)
    assert s.next_after(D(2023, 12, 31, 23, 59)) == D(2024, 1, 1, 6, 30)


def test_every_day_time_str_overrides():
    assert every_day(time_str="06:30") == Schedule("day", hour=6, minute=30, second=0)
    assert every_day(1, 2, 3, time_str="06:30:15") == every_day(6, 30, 15)
    with pytest.raises(ValueError, match="'6:3x'"):
        every_day(time_str="6:3x")
    with pytest.raises(ValueError, match="'25:00'"):
        every_week(time_str="25:00")
    with pytest.raises(ValueError, match="'ab'"):
        every_month(time_str="ab")
    with pytest.raises(ValueError, match="'24:00'"):
        every_year(time_str="24:00")


# -- week unit ---------------------------------------------------------------------------

def test_every_week_default_monday():
    s = every_week()
    assert s.day == 0
    # 2024-05-01 is a Wednesday.
    assert s.next_after(D(2024, 5, 1, 12)) == D(2024, 5, 6)
    assert s.next_after(D(2024, 5, 6, 0, 0)) == D(2024, 5, 13)


@pytest.mark.parametrize("name", ["fri", "FRI", "Friday", "friday", 4])
def test_every_week_by_name(name):
    s = every_week(name, time_str="17:30")
    assert s.day == 4
    assert s.next_after(D(2024, 5, 1, 12)) == D(2024, 5, 3, 17, 30)   # Wednesday -> Friday
    assert s.next_after(D(2024, 5, 3, 17, 29)) == D(2024, 5, 3, 17, 30)
    assert s.next_after(D(2024, 5, 3, 17, 30)) == D(2024, 5, 10, 17, 30)
    assert s.next_after(D(2024, 12, 28)) == D(2025, 1, 3, 17, 30)      # year rollover


def test_weekday_names_all():
    for names, weekday in ((("mon", "monday"), 0), (("tue", "tues", "tuesday"), 1),
                           (("wed", "wednesday"), 2), (("thu", "thur", "thurs", "thursday"), 3),
                           (("fri", "friday"), 4), (("sat", "saturday"), 5),
                           (("sun", "sunday"), 6)):
        for name in names:
            assert every_week(name).day == weekday
            assert every_week(name.upper()).day == weekday


# -- month unit --------------------------------------------------------------------------

def test_every_month_default_first():
    s = every_month()
    assert s.day == 1
    assert s.next_after(D(2024, 5, 1, 0, 0)) == D(2024, 6, 1)
    assert s.next_after(D(2024, 12, 15)) == D(2025, 1, 1)


def test_every_month_day_31_skips_short_months():
    s = every_month(31, time_str="12:00")
    assert s.next_after(D(2024, 1, 31, 11)) == D(2024, 1, 31, 12)
    assert s.next_after(D(2024, 1, 31, 12)) == D(2024, 3, 31, 12)     # skips February
    assert s.next_after(D(2024, 4, 1)) == D(2024, 5, 31, 12)           # skips April
    assert s.next_after(D(2024, 8, 31, 12)) == D(2024, 10, 31, 12)     # skips September
    assert s.next_after(D(2024, 12, 31, 12)) == D(2025, 1, 31, 12)     # year rollover


def test_every_month_day_30_skips_february_only():
    s = every_month(30)
    assert s.next_after(D(2024, 1, 30)) == D(2024, 3, 30)
    assert s.next_after(D(2024, 3, 30)) == D(2024, 4, 30)


def test_last_friday_of_month():
    s = every_month(day="fri", in_week=-1, hour=17)
    assert s.next_after(D(2024, 1, 1)) == D(2024, 1, 26, 17)
    assert s.next_after(D(2024, 1, 26, 17)) == D(2024, 2, 23, 17)
    assert s.next_after(D(2024, 5, 1)) == D(2024, 5, 31, 17)
    assert s.next_after(D(2024, 12, 27, 17)) == D(2025, 1, 31, 17)
    for month in range(1, 13):
        result = s.next_after(D(2025, month, 1))
        assert result.weekday() == 4 and result.month == month
        assert (result + timedelta(days=7)).month != month


def test_first_monday_of_month():
    s = every_month(day=0, in_week=1, time_str="09:00")
    assert s.next_after(D(2024, 4, 1, 8)) == D(2024, 4, 1, 9)         # 2024-04-01 is a Monday
    assert s.next_after(D(2024, 4, 1, 9)) == D(2024, 5, 6, 9)
    assert s.next_after(D(2024, 12, 3)) == D(2025, 1, 6, 9)


def test_second_and_fifth_weekday():
    assert every_month("tue", 2).next_after(D(2024, 5, 1)) == D(2024, 5, 14)
    # Fifth Thursday: only in months that have one (Feb 2024 has 29 days, 5 Thursdays).
    s = every_month("thu", 5)
    assert s.next_after(D(2024, 1, 1)) == D(2024, 2, 29)
    assert s.next_after(D(2024, 2, 29)) == D(2024, 5, 30)
    # Second-to-last Sunday.
    assert every_month("sun", -2).next_after(D(2024, 3, 1)) == D(2024, 3, 24)


# -- year unit ---------------------------------------------------------------------------

def test_every_year_default_new_year():
    s = every_year()
    assert (s.month, s.day) == (1, 1)
    assert s.next_after(D(2024, 1, 1, 0, 0)) == D(2025, 1, 1)
    assert s.next_after(D(2023, 12, 31, 23, 59, 59)) == D(2024, 1, 1)


def test_every_year_month_day():
    s = every_year(month=7, day=14, time_str="10:00")
    assert s.next_after(D(2024, 7, 14, 9)) == D(2024, 7, 14, 10)
    assert s.next_after(D(2024, 7, 14, 10)) == D(2025, 7, 14, 10)
    assert every_year(month=3).next_after(D(2024, 5, 1)) == D(2025, 3, 1)


def test_feb_29_only_in_leap_years():
    s = every_year(month=2, day=29)
    assert s.next_after(D(2023, 1, 1)) == D(2024, 2, 29)
    assert s.next_after(D(2024, 2, 29)) == D(2028, 2, 29)
    assert s.next_after(D(2096, 3, 1)) == D(2104, 2, 29)   # 2100 is not a leap year


def test_every_year_nth_weekday():
    # US Thanksgiving: fourth Thursday of November.
    s = every_year(month=11, day="thu", in_week=4)
    assert s.next_after(D(2024, 1, 1)) == D(2024, 11, 28)
    assert s.next_after(D(2024, 11, 28)) == D(2025, 11, 27)
    # Last Sunday of March (European DST start).
    assert every_year(month=3, day="sun", in_week=-1).next_after(D(2025, 1, 1)) == D(2025, 3, 30)


def test_every_year_iso_week():
    s = every_year(week=1, day="mon")
    assert s.month is None and s.day == 0
    assert s.next_after(D(2024, 6, 1)) == D(2024, 12, 30)  # ISO 2025-W01-1 lies in 2024
    assert s.next_after(D(2024, 12, 30)) == D(2025, 12, 29)
    # ISO week 53 exists only in some years (2020, 2026).
    s = every_year(week=53, day="thu", hour=8)
    assert s.next_after(D(2021, 1, 1)) == D(2026, 12, 31, 8)
    # The previous ISO year's week 53 can lie in January of now's year.
    assert every_year(week=53, day="sun").next_after(D(2021, 1, 1)) == D(2021, 1, 3)


def test_no_trigger_before_datetime_max_raises():
    with pytest.raises(ValueError, match="no trigger time"):
        every_year(month=2, day=29).next_after(D(9997, 1, 1))
    with pytest.raises(ValueError, match="no trigger time"):
        every_minute().next_after(D(9999, 12, 31, 23, 59, 30))


# -- impossible schedules and validation ---------------------------------------------------

@pytest.mark.parametrize("month, day", [(2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (11, 31)])
def test_impossible_date_raises(month, day):
    with pytest.raises(ValueError) as info:
        every_year(month=month, day=day)
    assert f"day={day}" in str(info.value) and f"month={month}" in str(info.value)


@pytest.mark.parametrize("kwargs, field", [
    (dict(unit="day", hour="6"), "hour"),
    (dict(unit="day", minute=1.5), "minute"),
    (dict(unit="minute", second="0"), "second"),
    (dict(unit="year", month="jan"), "month"),
    (dict(unit="month", day="fri"), "day"),          # weekday name without in_week
    (dict(unit="month", day=1.0), "day"),
    (dict(unit="week", day=4.0), "day"),
    (dict(unit="year", week="1"), "week"),
    (dict(unit="month", in_week="1", day=0), "in_week"),
    (dict(unit="minute", every="15"), "every"),
    (dict(unit="minute", every=15.0), "every"),
    (dict(unit="day", hour=True), "hour"),           # bool is not an int here
    (dict(unit=3), "unit"),
])
def test_type_errors_name_the_field(kwargs, field):
    with pytest.raises(TypeError) as info:
        Schedule(**kwargs)
    assert f"Schedule.{field}" in str(info.value)
    assert repr(kwargs[field]) in str(info.value)


@pytest.mark.parametrize("kwargs, field", [
    (dict(unit="day", hour=24), "hour"),
    (dict(unit="day", hour=-1), "hour"),
    (dict(unit="day", minute=60), "minute"),
    (dict(unit="day", second=60), "second"),
    (dict(unit="year", month=13), "month"),
    (dict(unit="year", month=0), "month"),
    (dict(unit="month", day=32), "day"),
    (dict(unit="month", day=0), "day"),
    (dict(unit="week", day=7), "day"),
    (dict(unit="week", day="fryday"), "day"),
    (dict(unit="year", week=54), "week"),
    (dict(unit="year", week=0), "week"),
    (dict(unit="month", in_week=0, day=0), "in_week"),
    (dict(unit="month", in_week=6, day=0), "in_week"),
    (dict(unit="month", in_week=-6, day=0), "in_week"),
    (dict(unit="minute", every=0), "every"),
    (dict(unit="minute", every=7), "every"),        # does not divide 60
    (dict(unit="minute", every=90), "every"),
    (dict(unit="hour", every=5), "every"),          # does not divide 24
    (dict(unit="hour", every=0), "every"),
    (dict(unit="day", every=2), "every"),           # only minute/hour may skip slots
    (dict(unit="fortnight"), "unit"),
])
def test_value_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError) as info:
        Schedule(**kwargs)
    assert f"Schedule.{field}" in str(info.value)
    assert repr(kwargs[field]) in str(info.value)


@pytest.mark.parametrize("unit, field", [
    ("minute", "minute"), ("minute", "hour"), ("hour", "hour"), ("hour", "day"),
    ("day", "day"), ("day", "month"), ("week", "month"), ("week", "in_week"),
    ("week", "week"), ("month", "month"), ("month", "week"),
])
def test_fields_that_do_not_apply_are_rejected(unit, field):
    with pytest.raises(ValueError) as info:
        Schedule(unit, **{field: 1})
    assert f"Schedule.{field}" in str(info.value) and repr(unit) in str(info.value)


def test_week_number_not_combinable():
    with pytest.raises(ValueError, match="Schedule.week cannot be combined with month"):
        every_year(month=1, week=1)
    with pytest.raises(ValueError, match="Schedule.week cannot be combined with in_week"):
        every_year(week=1, in_week=1)


def test_convenience_constructors_validate():
    with pytest.raises(ValueError, match="Schedule.every"):
        every_minute(every=7)
    with pytest.raises(ValueError, match="Schedule.every"):
        every_hour(every=5)
    with pytest.raises(TypeError, match="Schedule.hour"):
        every_day("6")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Schedule.month"):
        every_year(month=13)


def test_schedule_is_frozen_and_normalised():
    s = every_week("fri", 6, 30)
    assert s == Schedule("week", day=4, hour=6, minute=30, second=0)
    assert hash(s) == hash(Schedule("week", day="Friday", hour=6, minute=30))
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.hour = 7  # type: ignore[misc]
    assert Schedule("day") == every_day()
    assert set(UNITS) == {"year", "month", "week", "day", "hour", "minute"}


def test_next_after_requires_datetime():
    with pytest.raises(TypeError, match="now"):
        every_day().next_after(date(2024, 5, 1))  # type: ignore[arg-type]


# -- time zones ----------------------------------------------------------------------------

def test_aware_datetimes_keep_tzinfo():
    tz = timezone(timedelta(hours=5, minutes=30))
    now = D(2024, 5, 1, 6, 45, tzinfo=tz)
    result = every_day(6, 30).next_after(now)
    assert result == D(2024, 5, 2, 6, 30, tzinfo=tz)
    assert result.tzinfo is tz
    assert every_minute(every=15).next_after(now).tzinfo is tz
    utc_now = D(2023, 12, 31, 23, 50, tzinfo=timezone.utc)
    result = every_year().next_after(utc_now)
    assert result == D(2024, 1, 1, tzinfo=timezone.utc) and result.tzinfo is timezone.utc


def test_fold_preserved_in_repeated_hour():
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        tz = zoneinfo.ZoneInfo("America/New_York")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no time zone database")
    # 2024-11-03 01:00-02:00 occurs twice in New York; fold=1 is the second pass (EST).
    now = D(2024, 11, 3, 1, 10, tzinfo=tz, fold=1)
    result = every_minute(every=15).next_after(now)
    assert result == D(2024, 11, 3, 1, 15, tzinfo=tz) and result.fold == 1
    assert result.timestamp() - now.timestamp() == 5 * 60     # not in the past
    first_pass = every_minute(every=15).next_after(now.replace(fold=0))
    assert first_pass.fold == 0 and first_pass.timestamp() - now.replace(fold=0).timestamp() == 300
    # A result on a later date does not inherit the fold.
    assert every_day(1, 5).next_after(now).fold == 0


# -- properties ----------------------------------------------------------------------------

_NOWS = st.datetimes(min_value=D(1900, 1, 1), max_value=D(2200, 12, 31))


@settings(max_examples=300, deadline=None)
@given(now=_NOWS, hour=st.integers(0, 23), minute=st.integers(0, 59), second=st.integers(0, 59))
def test_property_every_day(now, hour, minute, second):
    result = every_day(hour, minute, second).next_after(now)
    assert result > now
    assert (result.hour, result.minute, result.second, result.microsecond) == (
        hour, minute, second, 0)
    assert result <= now + timedelta(days=1)


@settings(max_examples=300, deadline=None)
@given(now=_NOWS, every=st.sampled_from([1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60]),
       second=st.integers(0, 59))
def test_property_every_minute(now, every, second):
    result = every_minute(second=second, every=every).next_after(now)
    assert result > now
    assert result.minute % every == 0
    assert (result.second, result.microsecond) == (second, 0)
    assert result - now <= timedelta(minutes=every)


@settings(max_examples=200, deadline=None)
@given(now=_NOWS, day=st.integers(0, 6), in_week=st.sampled_from([-5, -4, -3, -2, -1,
                                                                   1, 2, 3, 4, 5]))
def test_property_nth_weekday(now, day, in_week):
    result = every_month(day=day, in_week=in_week).next_after(now)
    assert result > now and result.weekday() == day
    if in_week > 0:
        assert (result.day - 1) // 7 == in_week - 1
    else:
        last = (date(result.year + result.month // 12, result.month % 12 + 1, 1)
                - timedelta(days=1)).day
        assert (last - result.day) // 7 == -in_week - 1


def _matches(s: Schedule, d: date) -> bool:
    """Independent oracle: does ``d`` satisfy the date part of ``s``?"""
    if s.unit == "week":
        return d.weekday() == s.day
    if s.week is not None:
        return d.isocalendar()[1:] == (s.week, s.day + 1)
    if s.unit == "year" and d.month != s.month:
        return False
    if s.in_week is None:
        return d.day == s.day
    last = (date(d.year + d.month // 12, d.month % 12 + 1, 1) - timedelta(days=1)).day
    nth = (d.day - 1) // 7 + 1 if s.in_week > 0 else -((last - d.day) // 7 + 1)
    return d.weekday() == s.day and nth == s.in_week


_CALENDAR_SCHEDULES = st.one_of(
    st.builds(every_week, day=st.integers(0, 6), hour=st.integers(0, 23)),
    st.builds(every_month, day=st.integers(1, 31), minute=st.integers(0, 59)),
    st.builds(every_month, day=st.integers(0, 6), in_week=st.sampled_from([-5, -1, 1, 2, 5])),
    st.builds(every_year, month=st.integers(1, 12), day=st.integers(1, 28),
              hour=st.integers(0, 23)),
    st.builds(every_year, month=st.just(2), day=st.just(29)),
    st.builds(every_year, month=st.integers(1, 12), day=st.integers(0, 6),
              in_week=st.sampled_from([-1, 1, 4])),
    st.builds(every_year, week=st.sampled_from([1, 2, 26, 52, 53]), day=st.integers(0, 6)),
)


@settings(max_examples=300, deadline=None)
@given(now=_NOWS, schedule=_CALENDAR_SCHEDULES)
def test_property_matches_brute_force(now, schedule):
    result = schedule.next_after(now)
    at = (schedule.hour, schedule.minute, schedule.second)
    day = now.date()
    while True:  # a valid schedule always matches within 8 years
        if _matches(schedule, day) and datetime(day.year, day.month, day.day, *at) > now:
            break
        day += timedelta(days=1)
    assert result == datetime(day.year, day.month, day.day, *at)


def test_a_fractional_second_fires_at_that_fraction():
    """TaskTonic 0.2.4 accepts second=12.5: the trigger carries the fraction."""
    base = datetime(2026, 3, 1, 10, 0, 0)
    assert every_minute(second=12.5).next_after(base) == datetime(2026, 3, 1, 10, 0, 12, 500000)
    assert every_hour(minute=1, second=0.25).next_after(base) == datetime(2026, 3, 1, 10, 1, 0,
                                                                           250000)
    assert every_day(hour=10, second=59.999999).next_after(base) == datetime(2026, 3, 1, 10, 0,
                                                                              59, 999999)
    on_the_mark = datetime(2026, 3, 1, 10, 0, 12, 500000)
    assert every_minute(second=12.5).next_after(on_the_mark) == datetime(2026, 3, 1, 10, 1, 12,
                                                                          500000)
    for bad, error in ((60, ValueError), (60.0, ValueError), (-0.5, ValueError),
                       (float("nan"), ValueError), (True, TypeError), ("1.5", TypeError)):
        with pytest.raises(error):
            every_minute(second=bad)


def test_a_scheduled_timer_plans_its_fractional_second():
    seen = {}

    class Planner(ttTonic):
        def ttse__on_start(self):
            timer = ttTimerEveryMinute(second=7.25, sparkle_back=self.ttse__tick)
            seen["next"] = timer.next_trigger_time
            self.finish()

        def ttse__tick(self, info):
            pass

    run_app(Planner)
    assert seen["next"].second == 7 and seen["next"].microsecond == 250000

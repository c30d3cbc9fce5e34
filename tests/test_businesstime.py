"""Business-hours and wall clocks: the worked examples of the rules, holidays, DST, long weekends."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from owl.businesstime import BusinessCalendar, WallClock, parse_weekly_hours

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.timezone.utc
H = dt.timedelta(hours=1)


def paris(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=PARIS).astimezone(UTC)


def local(value: dt.datetime) -> str:
    return value.astimezone(PARIS).strftime("%Y-%m-%d %H:%M")


OFFICE = BusinessCalendar.from_spec({"mon-fri": "09:00-18:00"}, "Europe/Paris")
SPLIT = BusinessCalendar.from_spec({"mon-fri": "09:00-12:00,14:00-18:00", "sat": "09:00-12:00"},
                                   "Europe/Paris")
MOSELLE = BusinessCalendar.from_spec({"mon-fri": "09:00-18:00"}, "Europe/Paris", "FR", "57")
ALWAYS = BusinessCalendar.from_spec({"mon-sun": "00:00-24:00"}, "Europe/Paris")


@pytest.mark.parametrize("calendar, start, hours, deadline", [
    # docs/sla-rules.md, section 2: Friday 17:00 + 24 h → Wednesday 14:00
    (OFFICE, "2025-03-07 17:00", 24, "2025-03-12 14:00"),
    (OFFICE, "2025-03-10 09:00", 9, "2025-03-10 18:00"),  # at closing, not next morning
    (OFFICE, "2025-03-10 17:00", 1, "2025-03-10 18:00"),
    (OFFICE, "2025-03-10 20:00", 4, "2025-03-11 13:00"),  # starts after closing
    (OFFICE, "2025-03-11 06:30", 4, "2025-03-11 13:00"),  # starts before opening
    (OFFICE, "2025-03-08 11:00", 4, "2025-03-10 13:00"),  # starts on a Saturday
    (OFFICE, "2025-03-09 23:59", 48, "2025-03-17 12:00"),  # Sunday night, 48 business hours
    (OFFICE, "2025-04-30 17:00", 24, "2025-05-06 14:00"),  # 1 May is closed
    (OFFICE, "2025-12-24 17:00", 9, "2025-12-26 17:00"),  # Christmas
    (OFFICE, "2025-05-07 17:00", 9, "2025-05-09 17:00"),  # 8 May
    (OFFICE, "2025-05-28 18:00", 9, "2025-05-30 18:00"),  # Ascension Thursday 29 May
    (OFFICE, "2025-06-06 17:00", 9, "2025-06-10 17:00"),  # Whit Monday long weekend
    (OFFICE, "2025-07-11 12:00", 9, "2025-07-15 12:00"),  # 14 July on a Monday
    (OFFICE, "2025-08-14 12:00", 9, "2025-08-18 12:00"),  # 15 August
    (OFFICE, "2025-10-31 12:00", 9, "2025-11-03 12:00"),  # 1 November on a Saturday
    (OFFICE, "2025-11-10 12:00", 9, "2025-11-12 12:00"),  # 11 November
    (OFFICE, "2025-04-18 17:00", 9, "2025-04-22 17:00"),  # Easter Monday (Good Friday open)
    (OFFICE, "2024-12-31 17:00", 9, "2025-01-02 17:00"),  # New Year's Day
    (MOSELLE, "2025-04-17 17:00", 9, "2025-04-22 17:00"),  # Good Friday closed in Moselle
    (MOSELLE, "2025-12-24 17:00", 9, "2025-12-29 17:00"),  # and St Stephen's Day
    (SPLIT, "2025-03-10 11:00", 2, "2025-03-10 15:00"),  # lunch break does not count
    (SPLIT, "2025-03-07 17:00", 4, "2025-03-08 12:00"),  # Saturday morning counts
    (OFFICE, "2025-03-28 17:00", 11, "2025-04-01 10:00"),  # spring DST weekend
    (OFFICE, "2025-10-24 17:00", 10, "2025-10-27 18:00"),  # autumn DST weekend
    (ALWAYS, "2025-03-29 23:00", 4, "2025-03-30 04:00"),  # 24/7 hours across spring DST
    (ALWAYS, "2025-10-25 23:00", 4, "2025-10-26 02:00"),  # 24/7 hours across autumn DST
])
def test_business_deadlines(calendar, start, hours, deadline):
    assert local(calendar.add(paris(start), hours * H)) == deadline


@pytest.mark.parametrize("start, deadline", [
    ("2025-03-30 00:30", "2025-03-30 05:30"),  # spring forward: 4 h of real time
    ("2025-10-26 00:30", "2025-10-26 03:30"),  # fall back: 4 h of real time
    ("2025-03-08 22:00", "2025-03-09 02:00"),  # a Saturday night, not business hours
])
def test_the_wall_clock_counts_real_time_across_dst_and_weekends(start, deadline):
    assert local(WallClock().add(paris(start), 4 * H)) == deadline


def test_every_french_public_holiday_of_2025_is_closed():
    expected = ["2025-01-01", "2025-04-21", "2025-05-01", "2025-05-08", "2025-05-29",
                "2025-06-09", "2025-07-14", "2025-08-15", "2025-11-01", "2025-11-11",
                "2025-12-25"]
    assert [d.isoformat() for d in OFFICE.holidays_in(2025)] == expected
    for day in expected:
        date = dt.date.fromisoformat(day)
        assert OFFICE.open_intervals(date) == ()
        assert not OFFICE.is_open(paris(f"{day} 10:00"))


def test_alsace_moselle_adds_good_friday_and_st_stephen():
    assert MOSELLE.is_holiday(dt.date(2025, 4, 18)) and MOSELLE.is_holiday(dt.date(2025, 12, 26))
    assert not OFFICE.is_holiday(dt.date(2025, 4, 18))


def test_opening_hours_run_in_the_contract_timezone():
    reunion = BusinessCalendar.from_spec({"mon-fri": "09:00-18:00"}, "Indian/Reunion")
    start = dt.datetime(2025, 3, 10, 5, 0, tzinfo=UTC)  # 09:00 in Réunion (UTC+4)
    assert reunion.add(start, 9 * H) == dt.datetime(2025, 3, 10, 14, 0, tzinfo=UTC)


def test_business_time_between_counts_only_opening_hours():
    assert OFFICE.between(paris("2025-03-07 17:00"), paris("2025-03-12 14:00")) == 24 * H
    assert OFFICE.between(paris("2025-03-08 00:00"), paris("2025-03-09 23:59")) == dt.timedelta()
    assert OFFICE.between(paris("2025-03-10 12:00"), paris("2025-03-10 11:00")) == dt.timedelta()


def test_working_days_skip_weekends_and_holidays():
    # termination on Wed 24 Dec 2025: 7 jours ouvrés → Tue 6 Jan 2026
    assert OFFICE.add_working_days(dt.date(2025, 12, 24), 7) == dt.date(2026, 1, 6)
    assert OFFICE.add_working_days(dt.date(2025, 3, 7), 1) == dt.date(2025, 3, 10)


@pytest.mark.parametrize("spec, message", [
    ({"mon-fri": "9-18"}, "is not a range"),
    ({"funday": "09:00-18:00"}, "is not a day"),
    ({"fri-mon": "09:00-18:00"}, "runs backwards"),
    ({"mon": "18:00-09:00"}, "must run forwards"),
    ({"mon": "09:00-25:00"}, "must run forwards"),
    ({"mon": "09:00-12:00,11:00-13:00"}, "overlap"),
    ({"mon-fri": "09:00-18:00", "mon": "17:00-19:00"}, "overlap"),
    ({}, "at least one"),
])
def test_bad_opening_hours_are_refused_with_the_reason(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_weekly_hours(spec)


@st.composite
def weekly_hours(draw) -> dict[str, str]:
    """Random opening hours: for some weekdays, one to three ordered, disjoint ranges."""
    days = draw(st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
                         min_size=1, max_size=7, unique=True))
    hours = {}
    for day in days:
        cuts = sorted(draw(st.lists(st.integers(0, 96), min_size=2, max_size=6, unique=True)))
        ranges = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]
        hours[day] = ",".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in ranges)
    return hours


def _hhmm(quarters: int) -> str:
    return f"{quarters * 15 // 60:02d}:{quarters * 15 % 60:02d}"


HOURS = weekly_hours()
TIMEZONES = st.sampled_from(["Europe/Paris", "America/New_York", "Indian/Reunion", "UTC",
                             "Australia/Lord_Howe"])  # a 30-minute DST shift
STARTS = st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2027, 12, 31),
                      timezones=st.just(UTC))
DURATIONS = st.integers(min_value=0, max_value=96 * 60).map(lambda m: dt.timedelta(minutes=m))


@settings(max_examples=300, deadline=None)
@given(hours=HOURS, timezone=TIMEZONES, start=STARTS, duration=DURATIONS)
def test_the_business_time_from_a_start_to_its_deadline_is_the_response_time(
        hours, timezone, start, duration):
    calendar = BusinessCalendar.from_spec(hours, timezone)
    weekly = sum(b - a for ranges in calendar.weekly.values() for a, b in ranges)
    assume(weekly >= 4 * 60)  # less is no contract: 96 h would take more than a year to count
    deadline = calendar.add(start, duration)
    assert deadline >= start
    assert calendar.between(start, deadline) == duration
    if duration:
        assert calendar.is_open(deadline - dt.timedelta(microseconds=1))

"""Opening hours as a customer experiences them: boundaries, time zones, DST, holidays."""

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from contracts.business_hours import Holiday, Schedule, parse_time_range

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
UTC = timezone.utc


def make_schedule(
    tz: ZoneInfo,
    weekdays: str = "08:00-20:00",
    sat: str | None = "09:00-17:00",
    sun: str | None = None,
    holidays: tuple[Holiday, ...] = (),
) -> Schedule:
    def day(text: str | None) -> tuple:
        return (parse_time_range(text),) if text else ()

    return Schedule(
        name="support",
        timezone=tz,
        weekly=(*(day(weekdays) for _ in range(5)), day(sat), day(sun)),
        holidays=holidays,
    )


@pytest.fixture
def london() -> Schedule:
    return make_schedule(LONDON)


@pytest.mark.parametrize(
    ("local", "is_open"),
    [
        (datetime(2026, 6, 3, 7, 59, 59), False),
        (datetime(2026, 6, 3, 8, 0), True),
        (datetime(2026, 6, 3, 19, 59, 59), True),
        (datetime(2026, 6, 3, 20, 0), False),
        (datetime(2026, 6, 6, 12, 0), True),  # Saturday
        (datetime(2026, 6, 7, 12, 0), False),  # Sunday
    ],
)
def test_open_from_start_inclusive_to_end_exclusive(london, local, is_open):
    assert london.is_open(local.replace(tzinfo=LONDON)) is is_open


def test_utc_instant_is_judged_on_the_schedule_wall_clock(london):
    # 07:30 UTC in June is 08:30 in London (BST): open, though 07:30 < 08:00.
    assert london.is_open(datetime(2026, 6, 3, 7, 30, tzinfo=UTC))
    # 19:30 UTC in June is 20:30 in London: closed.
    assert not london.is_open(datetime(2026, 6, 3, 19, 30, tzinfo=UTC))
    # In January London is on UTC: 07:30 UTC is 07:30 local, closed.
    assert not london.is_open(datetime(2026, 1, 7, 7, 30, tzinfo=UTC))


def test_naive_datetime_is_rejected(london):
    with pytest.raises(ValueError, match="timezone-aware"):
        london.is_open(datetime(2026, 6, 3, 12, 0))


@pytest.mark.parametrize(
    ("utc", "is_open"),
    [
        # Spring forward: Sunday 29 March 2026 01:00 UTC. Monday 30 March is on BST.
        (datetime(2026, 3, 27, 7, 59), False),  # Friday on GMT: 07:59 local
        (datetime(2026, 3, 27, 8, 0), True),
        (datetime(2026, 3, 30, 6, 59), False),  # Monday on BST: 07:59 local
        (datetime(2026, 3, 30, 7, 0), True),  # 08:00 local
        (datetime(2026, 3, 30, 18, 59), True),
        (datetime(2026, 3, 30, 19, 0), False),  # 20:00 local
        # Fall back: Sunday 25 October 2026 01:00 UTC. Monday 26 October is on GMT.
        (datetime(2026, 10, 23, 7, 0), True),  # Friday on BST: 08:00 local
        (datetime(2026, 10, 26, 7, 0), False),  # Monday on GMT: 07:00 local
        (datetime(2026, 10, 26, 8, 0), True),
        (datetime(2026, 10, 26, 19, 59), True),
    ],
)
def test_london_hours_follow_both_2026_dst_switches(london, utc, is_open):
    assert london.is_open(utc.replace(tzinfo=UTC)) is is_open


def test_next_open_across_spring_forward_weekend_is_0800_local(london):
    saturday_evening = datetime(2026, 3, 28, 18, 0, tzinfo=UTC)
    opening = london.next_open(saturday_evening)
    assert opening == datetime(2026, 3, 30, 8, 0, tzinfo=LONDON)
    assert opening.astimezone(UTC) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert opening.tzinfo is LONDON


def test_next_open_across_fall_back_weekend_is_0800_local(london):
    opening = london.next_open(datetime(2026, 10, 24, 18, 0, tzinfo=UTC))
    assert opening.astimezone(UTC) == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


def test_opening_time_skipped_by_spring_forward_opens_at_the_switch():
    night = make_schedule(LONDON, weekdays="01:30-03:00", sat="01:30-03:00", sun="01:30-03:00")
    opening = night.next_open(datetime(2026, 3, 29, 0, 0, tzinfo=UTC))
    assert opening.astimezone(UTC) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 BST


def test_range_in_the_repeated_autumn_hour_opens_twice():
    short = make_schedule(LONDON, weekdays="01:30-01:45", sat="01:30-01:45", sun="01:30-01:45")
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST
    between = datetime(2026, 10, 25, 0, 50, tzinfo=UTC)  # 01:50 BST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 01:30 GMT
    assert short.is_open(first)
    assert not short.is_open(between)
    assert short.is_open(second)
    assert short.next_open(between).astimezone(UTC) == second


def test_new_york_schedule_in_its_own_zone_and_dst():
    new_york = make_schedule(NEW_YORK, weekdays="09:00-17:00", sat=None)
    # US DST starts 8 March 2026: 13:00 UTC is 08:00 EST before and 09:00 EDT after.
    assert not new_york.is_open(datetime(2026, 3, 6, 13, 0, tzinfo=UTC))
    assert new_york.is_open(datetime(2026, 3, 9, 13, 0, tzinfo=UTC))
    # The same instant in London terms is judged by New York's clock.
    assert new_york.is_open(datetime(2026, 3, 9, 13, 0, tzinfo=UTC).astimezone(LONDON))
    # Friday 17:00 EST -> Monday 09:00 EDT, across the switch.
    opening = new_york.next_open(datetime(2026, 3, 6, 22, 0, tzinfo=UTC))
    assert opening == datetime(2026, 3, 9, 9, 0, tzinfo=NEW_YORK)
    assert opening.astimezone(UTC) == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)


def test_next_open_is_now_when_open(london):
    now = datetime(2026, 6, 3, 10, 15, tzinfo=UTC)
    assert london.next_open(now) == now


def test_next_open_later_the_same_day(london):
    early = datetime(2026, 6, 3, 5, 0, tzinfo=LONDON)
    assert london.next_open(early) == datetime(2026, 6, 3, 8, 0, tzinfo=LONDON)


def test_next_open_over_a_weekend(london):
    saturday_after_close = datetime(2026, 6, 6, 17, 0, tzinfo=LONDON)
    assert london.next_open(saturday_after_close) == datetime(2026, 6, 8, 8, 0, tzinfo=LONDON)


@pytest.fixture
def christmas() -> Schedule:
    return make_schedule(
        LONDON,
        holidays=(
            Holiday(date(2026, 12, 24), "Christmas Eve", (parse_time_range("08:00-14:00"),)),
            Holiday(date(2026, 12, 25), "Christmas"),
            Holiday(date(2026, 12, 26), "Boxing Day"),
            Holiday(date(2026, 12, 28), "Boxing Day bank holiday"),
        ),
    )


def test_holiday_closes_all_day(christmas):
    friday_noon = datetime(2026, 12, 25, 12, 0, tzinfo=LONDON)
    assert not christmas.is_open(friday_noon)
    assert christmas.holiday_name(friday_noon) == "Christmas"


def test_holiday_with_special_hours(christmas):
    assert christmas.is_open(datetime(2026, 12, 24, 13, 59, tzinfo=LONDON))
    assert not christmas.is_open(datetime(2026, 12, 24, 14, 0, tzinfo=LONDON))
    assert christmas.holiday_name(datetime(2026, 12, 24, 9, 0, tzinfo=LONDON)) == "Christmas Eve"


def test_holiday_is_the_local_date_not_the_utc_date(christmas):
    # 23:30 UTC on the 24th is still the 24th in London (GMT) and already the 25th in Berlin.
    assert christmas.holiday_name(datetime(2026, 12, 24, 23, 30, tzinfo=UTC)) == "Christmas Eve"
    assert christmas.holiday_name(datetime(2026, 12, 23, 12, 0, tzinfo=UTC)) is None


def test_next_open_skips_holidays_and_the_weekend(christmas):
    # Christmas Eve after 14:00 -> 25th holiday, 26th holiday (Sat), 27th Sunday, 28th holiday.
    opening = christmas.next_open(datetime(2026, 12, 24, 14, 0, tzinfo=LONDON))
    assert opening == datetime(2026, 12, 29, 8, 0, tzinfo=LONDON)


def test_next_open_is_none_when_closed_for_more_than_14_days():
    closed = make_schedule(LONDON, weekdays="", sat=None)
    assert closed.next_open(datetime(2026, 6, 3, 12, 0, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("22:00-02:00", "overnight range '22:00-02:00' is not supported: split it at midnight"),
        ("08:00-08:00", "is empty"),
        ("25:00-26:00", "invalid time"),
        ("08:60-09:00", "invalid time"),
        ("8am-5pm", "expected a range like '08:00-20:00'"),
    ],
)
def test_bad_ranges_are_rejected_with_a_clear_message(text, message):
    with pytest.raises(ValueError, match=message):
        parse_time_range(text)


def test_range_may_end_at_midnight():
    late = make_schedule(LONDON, weekdays="18:00-24:00")
    assert late.is_open(datetime(2026, 6, 3, 23, 59, 59, tzinfo=LONDON))
    assert not late.is_open(datetime(2026, 6, 4, 0, 0, tzinfo=LONDON))


def test_open_seconds_counts_only_opening_hours_across_days_and_weekends():
    schedule = make_schedule(LONDON)  # weekdays 08:00-20:00, Saturday 09:00-17:00, Sunday shut
    friday_evening = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)  # 19:00 London (GMT)
    monday_morning = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    expected = 3600 + 8 * 3600 + 90 * 60  # Fri 19-20, Sat 09-17, Mon 08:00-09:30
    assert schedule.open_seconds(friday_evening, monday_morning) == expected
    assert schedule.open_seconds(monday_morning, friday_evening) == 0.0


def test_open_seconds_on_a_spring_forward_day_uses_local_wall_clock():
    schedule = make_schedule(LONDON, weekdays="00:00-24:00", sat=None, sun="00:00-24:00")
    day_start = datetime(2026, 3, 29, 0, 0, tzinfo=LONDON)  # Sunday, clocks go 01:00 -> 02:00
    day_end = datetime(2026, 3, 30, 0, 0, tzinfo=LONDON)
    assert schedule.open_seconds(day_start, day_end) == 23 * 3600

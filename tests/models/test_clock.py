"""The company's clock: a local day and its bounds in UTC, document numbers by the local day."""
from datetime import date, datetime, time, timezone

from models.clock import at_local, day_bounds, day_start, document_number, local_day
from models.settings import update_settings
from tests.factories import make_user


def test_the_company_day_in_shanghai(db):
    # 2026-11-25 00:00 in Shanghai is 16:00 UTC the day before.
    start, end = day_bounds(date(2026, 11, 25))
    assert start == datetime(2026, 11, 24, 16, tzinfo=timezone.utc) == day_start(date(2026, 11, 25))
    assert end == datetime(2026, 11, 25, 16, tzinfo=timezone.utc)
    assert local_day(start) == date(2026, 11, 25) and local_day(end) == date(2026, 11, 26)
    assert at_local(date(2026, 11, 25), time(23, 59)) == datetime(2026, 11, 25, 15, 59,
                                                                   tzinfo=timezone.utc)


def test_a_document_is_numbered_by_the_local_day_it_was_written(db):
    late_evening = datetime(2026, 11, 24, 17, 30, tzinfo=timezone.utc)  # 01:30 on the 25th
    assert document_number("XS", late_evening, 12) == "XS20261125-00012"
    assert document_number("TH", late_evening, 123456) == "TH20261125-123456"


def test_the_day_follows_the_time_zone_setting(db):
    update_settings({"general.timezone": "Europe/Berlin"}, actor=make_user(["admin"]))
    start, end = day_bounds(date(2026, 7, 1))  # summer time: UTC+2
    assert start == datetime(2026, 6, 30, 22, tzinfo=timezone.utc)
    assert (end - start).total_seconds() == 24 * 3600
    start, end = day_bounds(date(2026, 10, 25))  # the clocks go back: a 25-hour day
    assert (end - start).total_seconds() == 25 * 3600

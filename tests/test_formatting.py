"""The formatting helpers behind the |fen, |local_dt, |local_date and |masked_phone filters."""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from formatting import fen, local_date, local_dt, masked_phone, national_phone

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("value, shown", [
    (0, "¥0.00"), (5, "¥0.05"), (123450, "¥1,234.50"), (100000000, "¥1,000,000.00"),
    (-199, "-¥1.99"), (None, ""), (10**15 + 1, "¥10,000,000,000,000.01")])
def test_fen(value, shown):
    assert fen(value) == shown


def test_times_show_in_the_company_zone_around_midnight():
    # 16:30 UTC on the 24th is 00:30 on the 25th in Shanghai.
    moment = datetime(2026, 11, 24, 16, 30, tzinfo=timezone.utc)
    assert local_dt(moment, zone=SHANGHAI) == "2026-11-25 00:30"
    assert local_date(moment, zone=SHANGHAI) == "2026-11-25"
    assert local_dt(moment, "%H:%M", zone=ZoneInfo("UTC")) == "16:30"
    assert local_dt(None) == "" and local_date(None) == ""
    assert local_date(date(2026, 2, 28)) == "2026-02-28"


def test_masked_phone():
    assert masked_phone("+8613812348000") == "138****8000"
    assert masked_phone("13812348000") == "138****8000"
    assert masked_phone("") == "" and masked_phone(None) == ""
    assert national_phone("+8613812348000") == "13812348000"


def test_filters_are_registered(app):
    for name in ("fen", "local_dt", "local_date", "masked_phone", "phone"):
        assert name in app.jinja_env.filters

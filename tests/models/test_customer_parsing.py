"""The cells of old spreadsheets (issue 26 §2), one table per parser: each form people type, what
it is read as, and the Chinese message for a cell that cannot be read."""
from datetime import date, datetime

import pytest

from models.base import InvalidInput
from models.customers import parsing as p
from models.customers.parsing import Birthday, LunarDate, Name, Phone

TODAY = date(2026, 12, 7)


@pytest.fixture
def ctx(app):
    """An app context: the messages are Chinese, as the clerk reads them."""
    with app.app_context():
        yield


@pytest.mark.parametrize("cell, expected", [
    ("1950.3.8", date(1950, 3, 8)),
    ("1950/3/8", date(1950, 3, 8)),
    ("1950-03-08", date(1950, 3, 8)),
    ("19500308", date(1950, 3, 8)),
    (19500308, date(1950, 3, 8)),  # the same typed into a number cell
    ("50-3-8", date(1950, 3, 8)),  # two-digit year: 19xx for a birthday
    ("50.3.8", date(1950, 3, 8)),
    ("500308", date(1950, 3, 8)),
    ("1950年3月8日", date(1950, 3, 8)),
    ("1950年03月08号", date(1950, 3, 8)),
    ("１９５０．３．８", date(1950, 3, 8)),  # full-width, as a Chinese input method types it
    ("1950-3-8 00:00:00", date(1950, 3, 8)),
    (datetime(1950, 3, 8), date(1950, 3, 8)),  # a date cell
    (date(1950, 3, 8), date(1950, 3, 8)),
    (18330, date(1950, 3, 8)),  # Excel's day number: a date cell formatted as General
    (18330.0, date(1950, 3, 8)),
    ("18330", date(1950, 3, 8)),  # … pasted as text
    (None, None), ("", None), ("  ", None),
])
def test_solar_dates(ctx, cell, expected):
    assert p.parse_date(cell) == expected


def test_two_digit_years_in_another_century(ctx):
    assert p.parse_date("26-3-8", century=2000) == date(2026, 3, 8)


@pytest.mark.parametrize("cell, message", [
    ("1950-2-30", "1950-2-30 不是日期（请写成 1950-03-08 这样）"),
    ("1950.3", "不是日期"),
    ("3月8日", "不是日期"),
    ("明年", "明年 不是日期"),
    ("1950", "1950 只有年份：请写完整日期"),
    (1950, "1950 只有年份"),
    (19501340, "不是日期"),
    (75, "75 不是日期"),  # Excel's day 75 is in 1900: a small number is no date
])
def test_unreadable_dates_say_why(ctx, cell, message):
    with pytest.raises(InvalidInput, match=message):
        p.parse_date(cell)


@pytest.mark.parametrize("cell, expected", [
    ("腊月初八", LunarDate(12, 8)),
    ("农历三月初八", LunarDate(3, 8)),
    ("闰四月初五", LunarDate(4, 5, leap=True)),
    ("正月十五", LunarDate(1, 15)),
    ("冬月廿三", LunarDate(11, 23)),
    ("十月三十", LunarDate(10, 30)),
    ("十一月二十一", LunarDate(11, 21)),
    ("十二月初一", LunarDate(12, 1)),
    ("元月初二", LunarDate(1, 2)),
    ("阴历五月初五", LunarDate(5, 5)),
    ("农历：腊月 初八", LunarDate(12, 8)),
    ("三月初八生", LunarDate(3, 8)),
    ("农历闰4月5日", LunarDate(4, 5, leap=True)),
    ("3-8", LunarDate(3, 8)),
    ("3/8", LunarDate(3, 8)),
    ("12.8", LunarDate(12, 8)),
    ("闰4-5", LunarDate(4, 5, leap=True)),
    ("1950年三月初八", LunarDate(3, 8, year=1950)),
    ("50-3-8", LunarDate(3, 8, year=1950)),
    # Excel turned 3-8 into a date of the year it was typed: month and day only …
    (datetime(2019, 3, 8), LunarDate(3, 8)),
    # … but a year of birth is one.
    (datetime(1950, 3, 8), LunarDate(3, 8, year=1950)),
    (None, None),
])
def test_lunar_dates(ctx, cell, expected):
    assert p.parse_lunar(cell, today=TODAY) == expected


def test_lunar_labels_use_the_calendars_names():
    assert LunarDate(12, 8).label == "农历腊月初八"
    assert LunarDate(4, 5, leap=True).label == "农历闰四月初五"
    assert LunarDate(11, 23).label == "农历冬月廿三"


@pytest.mark.parametrize("cell, message", [
    ("13-1", "13-1：农历月份只能是 1–12"),
    ("三月三十一", "三月三十一：农历日子只能是 1–30"),
    ("腊八", "腊八 不是农历月日（请写成 三月初八、腊月初八、闰四月初五 或 3-8）"),
    ("2099年三月初八", "出生年份必须在 1900 年到今年之间"),
])
def test_unreadable_lunar_dates_say_why(ctx, cell, message):
    with pytest.raises(InvalidInput, match=message):
        p.parse_lunar(cell, today=TODAY)


@pytest.mark.parametrize("cell, expected", [
    ("75岁", 75), ("75", 75), (75, 75), (75.0, 75), ("75周岁", 75), ("约75岁", 75),
    ("七十五岁", 75), ("七十五", 75), ("75 岁", 75), ("一百零二岁", 102), (None, None),
])
def test_ages(ctx, cell, expected):
    assert p.parse_age(cell) == expected


@pytest.mark.parametrize("cell", ["200", "0", "老", 75.5, "七十五点五"])
def test_unreadable_ages_say_why(ctx, cell):
    with pytest.raises(InvalidInput, match="不是年龄（请写成 75 或 75岁）"):
        p.parse_age(cell)


@pytest.mark.parametrize("cell, expected", [
    (1950, (1950, False)), ("1950", (1950, False)), ("1950年", (1950, False)),
    ("75岁", (1951, True)), (75, (1951, True)), (None, None),
])
def test_years_of_birth_and_ages_written_in_their_place(ctx, cell, expected):
    assert p.parse_birth_year(cell, today=TODAY) == expected


@pytest.mark.parametrize("cell, message", [
    ("2030", "出生年份必须在 1900 年到今年之间"),
    ("五十年代", "不是出生年份（请写成 1950，或写年龄如 75岁）"),
])
def test_unreadable_years_of_birth_say_why(ctx, cell, message):
    with pytest.raises(InvalidInput, match=message):
        p.parse_birth_year(cell, today=TODAY)


@pytest.mark.parametrize("cell, expected", [
    ("1950.3.8", Birthday(solar=date(1950, 3, 8))),
    (18330, Birthday(solar=date(1950, 3, 8))),
    (datetime(1950, 3, 8), Birthday(solar=date(1950, 3, 8))),
    ("腊月初八", Birthday(lunar=LunarDate(12, 8))),
    ("农历1951年三月初八", Birthday(lunar=LunarDate(3, 8, year=1951), year=1951)),
    ("1950", Birthday(year=1950)),
    (1950, Birthday(year=1950)),
    ("75岁", Birthday(year=1951, estimated=True, age=75)),
    (75, Birthday(year=1951, estimated=True, age=75)),
    ("", None),
])
def test_a_birthday_column_holds_any_of_them(ctx, cell, expected):
    assert p.parse_birthday(cell, today=TODAY) == expected


M = "13800138000"
M2 = "13900139000"


@pytest.mark.parametrize("cell, expected", [
    ("138 0013 8000", [M]),
    ("138-0013-8000", [M]),
    ("+86 138 0013 8000", [M]),
    ("+8613800138000", [M]),
    ("0086 13800138000", [M]),
    ("8613800138000", [M]),
    (13800138000, [M]),  # a number cell
    (13800138000.0, [M]),
    ("手机：13800138000（本人）", [M]),
    ("13800138000/13900139000", [M, M2]),
    ("13800138000,13900139000", [M, M2]),
    ("13800138000，13900139000", [M, M2]),
    ("13800138000、13900139000", [M, M2]),
    ("13800138000 13900139000", [M, M2]),
    ("138 0013 8000 139 0013 9000", [M, M2]),
    ("13800138000或13900139000", [M, M2]),
    ("010-65123456 13800138000", ["010-65123456", M]),
    ("(0571)88888888", ["0571-88888888"]),
    ("65123456", ["65123456"]),
    ("无", []), (None, []),
])
def test_phones(ctx, cell, expected):
    phones = p.parse_phones(cell)
    assert [x.number for x in phones] == expected
    assert all(x.mobile == x.number.startswith("1") for x in phones)


@pytest.mark.parametrize("cell, message", [
    ("12345", "12345 不是有效的手机号"),
    ("138001380001", "不是有效的手机号"),
    ("+1 415 555 0100", "不是电话号码"),
])
def test_unreadable_phones_say_why(ctx, cell, message):
    with pytest.raises(InvalidInput, match=message):
        p.parse_phones(cell)


@pytest.mark.parametrize("cell, expected", [
    ("张阿姨", Name("张阿姨", "阿姨")),
    ("王老师", Name("王老师", "老师")),
    ("李大爷", Name("李大爷", "大爷")),
    ("赵叔", Name("赵叔", "叔")),
    ("赵叔叔", Name("赵叔叔", "叔叔")),
    ("刘奶奶", Name("刘奶奶", "奶奶")),
    ("陈大姐", Name("陈大姐", "大姐")),
    ("欧阳老师", Name("欧阳老师", "老师")),
    ("老王", Name("老王", "老")),
    ("张秀兰", Name("张秀兰")),
    ("王建国", Name("王建国")),
    ("张  三", Name("张三")),  # spaced to line up with three-character names
    ("张\u3000秀兰", Name("张秀兰")),
    (" John  Smith ", Name("John Smith")),
])
def test_names(cell, expected):
    assert p.parse_name(cell) == expected


@pytest.mark.parametrize("cell, expected", [
    ("男", "M"), ("女", "F"), ("男性", "M"), ("F", "F"), ("female", "F"), (None, ""),
])
def test_genders(ctx, cell, expected):
    assert p.parse_gender(cell) == expected


def test_unreadable_gender_says_why(ctx):
    with pytest.raises(InvalidInput, match="性别只能填"):
        p.parse_gender("未知")


@pytest.mark.parametrize("cell, expected", [
    ("¥1,234.50", 123450), (1234.5, 123450), ("1234.50元", 123450), ("1.2万", 1200000),
    (800, 80000), ("-100", -10000), ("￥ 12", 1200), (None, None),
])
def test_amounts_in_fen(ctx, cell, expected):
    assert p.parse_fen(cell) == expected


@pytest.mark.parametrize("cell", ["1234.567", "abc", "一千"])
def test_unreadable_amounts_say_why(ctx, cell):
    with pytest.raises(InvalidInput, match="不是金额"):
        p.parse_fen(cell)


@pytest.mark.parametrize("cell, expected", [(3, 3), ("3", 3), ("3盒", 3), (3.0, 3), (None, None)])
def test_counts(ctx, cell, expected):
    assert p.parse_count(cell) == expected


@pytest.mark.parametrize("cell", ["-3", "3.5", 3.5, "三盒"])
def test_unreadable_counts_say_why(ctx, cell):
    with pytest.raises(InvalidInput, match="不是整数"):
        p.parse_count(cell)


def test_phone_is_a_value():
    assert Phone(M, True) == p.parse_phones(M)[0]

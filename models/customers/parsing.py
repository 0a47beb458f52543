"""Reading the cells of old spreadsheets: what people really type for a date, a lunar birthday,
an age, a phone, a name or an amount (issue 26 §2).

Pure functions (they read no database; the lunar month and day names come from
models.customers.birthdays, the one home of the lunar calendar): every import (customers, and the opening balances of other kinds)
reads its cells with them. Each takes a cell as openpyxl gives it (None, str, int, float,
datetime) and returns the value, None for an empty cell, or raises InvalidInput with a message
that names what was typed. They are called once per cell of files of 100,000 rows: plain string
work and precompiled patterns, nothing slower.
"""
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from models.base import InvalidInput
from models.customers.birthdays import LUNAR_DAY_NAMES, LUNAR_MONTH_NAMES, lunar_label

__all__ = ["Birthday", "LunarDate", "Name", "Phone", "cell_text", "is_blank", "parse_age",
           "parse_birth_year", "parse_birthday", "parse_count", "parse_date", "parse_fen",
           "parse_gender", "parse_lunar", "parse_name", "parse_phones", "parse_yes_no",
           "year_from_age"]

#: The oldest year of birth an import believes.
OLDEST_YEAR = 1900
#: The oldest age an import believes.
OLDEST_AGE = 120


def is_blank(value):
    """An empty cell: None, or text of spaces only."""
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value):
    """A cell as text, stripped; a whole number typed into a number cell loses its ".0"
    (13800138000.0 → "13800138000")."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _plain(value):
    """Cell text with full-width digits and punctuation made half-width (１９５０．３．８)."""
    return unicodedata.normalize("NFKC", cell_text(value))


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- Chinese numerals --------------------------------------------------------------------------

_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
           "七": 7, "八": 8, "九": 9}
_CHINESE_NUMBER = re.compile(r"[〇零一二两三四五六七八九十百]+")


def _chinese_number(text):
    """七十五 → 75, 一百零二 → 102, 十 → 10; None when `text` is not such a number."""
    if not text or not _CHINESE_NUMBER.fullmatch(text):
        return None
    total, digit = 0, None
    for char in text:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char == "十":
            total += (1 if digit is None else digit) * 10
            digit = None
        elif char == "百":
            total += (1 if digit is None else digit) * 100
            digit = None
    return total + (digit or 0)


# --- Solar dates -------------------------------------------------------------------------------

_TIME = re.compile(r"\s+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")
_DATE_TEXT = re.compile(r"(\d{4}|\d{2})\s*(?:年|[-/.、])\s*(\d{1,2})\s*(?:月|[-/.、])\s*"
                        r"(\d{1,2})\s*[日号]?")
#: Excel's day 1 is 1900-01-01; its day 60 is a 29 February 1900 that never was.
_EXCEL_EPOCH = date(1899, 12, 30)
#: The last day Excel writes (9999-12-31).
_EXCEL_LAST = 2958465


def _excel_day(serial):
    if serial < 61:  # before Excel's false 29 February 1900
        serial += 1
    return _EXCEL_EPOCH + timedelta(days=serial)


def _not_a_date(value):
    return InvalidInput(_("%(value)s is not a date (write it like 1950-03-08).",
                          value=cell_text(value)[:40]))


def _ymd(year, month, day, value):
    try:
        return date(year, month, day)
    except ValueError:
        raise _not_a_date(value) from None


def parse_date(value, *, century=1900):
    """A solar date from a cell: a date cell; 1950-03-08, 1950.3.8, 1950/3/8, 1950年3月8日,
    19500308, 500308; a two-digit year (50-3-8) in `century` (1900 for a birthday, 2000 for a
    recent document); an Excel day number (18330 — a date in a cell formatted as General).
    None for an empty cell."""
    if is_blank(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if _is_number(value):
        if isinstance(value, float) and not value.is_integer() and value < 1000:
            raise _not_a_date(value)
        number = int(value)
        if 19000101 <= number <= 99991231:
            return _ymd(number // 10000, number // 100 % 100, number % 100, value)
        if OLDEST_YEAR <= number <= 2100:
            raise InvalidInput(_("%(value)s is only a year: write the whole date (1950-03-08).",
                                 value=number))
        if 1000 <= number <= _EXCEL_LAST:
            return _excel_day(number)
        raise _not_a_date(value)
    return _date_from_text(_plain(value), value, century)


def _date_from_text(text, value, century):
    text = _TIME.sub("", text)
    if text.isdecimal():
        if len(text) == 8:
            return _ymd(int(text[:4]), int(text[4:6]), int(text[6:]), value)
        if len(text) == 6:
            return _ymd(century + int(text[:2]), int(text[2:4]), int(text[4:]), value)
        if len(text) == 5:  # an Excel day number pasted as text
            return _excel_day(int(text))
        if len(text) == 4 and OLDEST_YEAR <= int(text) <= 2100:
            raise InvalidInput(_("%(value)s is only a year: write the whole date (1950-03-08).",
                                 value=text))
        raise _not_a_date(value)
    match = _DATE_TEXT.fullmatch(text)
    if match is None:
        raise _not_a_date(value)
    year = int(match[1])
    if len(match[1]) == 2:
        year += century
    return _ymd(year, int(match[2]), int(match[3]), value)


# --- Lunar dates -------------------------------------------------------------------------------

@dataclass(frozen=True)
class LunarDate:
    """A lunar month and day (in the leap month when `leap`), with the lunar year of birth when
    the cell gave one."""
    month: int
    day: int
    leap: bool = False
    year: int | None = None

    @property
    def label(self):
        """农历闰四月初五."""
        return lunar_label(self.month, self.day, self.leap)


#: Month names: the calendar's own (正 … 冬 腊) and the other ways they are written (元月, 一月,
#: 十一月, 十二月).
_LUNAR_MONTHS = {name: number for number, name in enumerate(LUNAR_MONTH_NAMES) if name}
_LUNAR_MONTHS.update({"元": 1, "一": 1, "十一": 11, "十二": 12, "冬": 11, "腊": 12})
#: Day names: the calendar's own (初一 … 廿九 三十) and 二十一, 卅, 十, 初十 and the like.
_LUNAR_DAYS = {name: number for number, name in enumerate(LUNAR_DAY_NAMES) if name}
_LUNAR_DAYS.update({name: number for name, number in
                    [(n, _chinese_number(n)) for n in
                     ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "二十"]]
                    + [(f"二十{d}", 20 + _DIGITS[d]) for d in "一二三四五六七八九"]})
_LUNAR_DAYS.update({"卅": 30, "廿": 20})
#: Words that make a birthday cell lunar.
_LUNAR_HINT = re.compile(r"农历|阴历|旧历|闰|[正冬腊元]月|初[一二三四五六七八九十]|廿|卅|"
                         r"[一二三四五六七八九十]月")
_LUNAR_TEXT = re.compile(r"(?:(\d{4}|\d{2})(?:年|[-/.]))?"
                         r"(\d{1,2}|十[一二]|[正元一二三四五六七八九十冬腊])(?:月份?|[-/.])"
                         r"(\d{1,2}|[初廿卅一二三四五六七八九十]{1,3})[日号]?")
_LUNAR_NOISE = re.compile(r"[\s:：()（）]|^(?:农历|阴历|旧历|农|阴)|(?:生日|出生|生)$")


def _not_lunar(value):
    return InvalidInput(_("%(value)s is not a lunar month and day (write it like 三月初八, "
                          "腊月初八, 闰四月初五 or 3-8).", value=cell_text(value)[:40]))


def parse_lunar(value, *, today, century=1900):
    """A lunar birthday from a cell: 腊月初八, 农历三月初八, 闰四月初五, 正月十五, 冬月廿三,
    十月三十, 3-8, 闰4-5, 1950年三月初八 (with the year). A date cell is month and day (Excel
    turns 3-8 into a date of the year it was typed: a year less than 18 years before `today`
    is that, not a year of birth). None for an empty cell."""
    if is_blank(value):
        return None
    if isinstance(value, (datetime, date)):
        year = value.year if value.year <= today.year - 18 else None
        return LunarDate(value.month, value.day, False, year)
    text = _plain(value)
    leap = "闰" in text
    text = _LUNAR_NOISE.sub("", text.replace("闰", ""))
    text = _LUNAR_NOISE.sub("", text)  # 农历：… leaves the prefix first once the colon is gone
    match = _LUNAR_TEXT.fullmatch(text)
    if match is None:
        raise _not_lunar(value)
    month = int(match[2]) if match[2].isdecimal() else _LUNAR_MONTHS.get(match[2])
    day = int(match[3]) if match[3].isdecimal() else _LUNAR_DAYS.get(match[3])
    if not month or not 1 <= month <= 12:
        raise InvalidInput(_("%(value)s: the lunar month must be 1–12.",
                             value=cell_text(value)[:40]))
    if not day or not 1 <= day <= 30:
        raise InvalidInput(_("%(value)s: the lunar day must be 1–30.",
                             value=cell_text(value)[:40]))
    year = None
    if match[1]:
        year = int(match[1]) + (century if len(match[1]) == 2 else 0)
        _check_year(year, today, value)
    return LunarDate(month, day, leap, year)


# --- Ages and years of birth -------------------------------------------------------------------

_AGE_NOISE = re.compile(r"\s|约|大约|大概|左右|上下|多|余|周岁|虚岁|实岁|岁|\+")


def parse_age(value):
    """An age in years: 75, "75岁", "75周岁", "约75岁", "七十五岁". None for an empty cell."""
    if is_blank(value):
        return None
    if _is_number(value):
        age = int(value) if float(value).is_integer() else None
    else:
        text = _AGE_NOISE.sub("", _plain(value))
        age = int(text) if text.isdecimal() and len(text) <= 3 else _chinese_number(text)
    if age is None or not 1 <= age <= OLDEST_AGE:
        raise InvalidInput(_("%(value)s is not an age (write it like 75 or 75岁).",
                             value=cell_text(value)[:40]))
    return age


def year_from_age(age, today):
    """The year of birth an age points to on `today` (a guess: the birthday may not have come
    yet this year, and many give their 虚岁)."""
    return today.year - age


def _check_year(year, today, value):
    if not OLDEST_YEAR <= year <= today.year:
        raise InvalidInput(_("%(value)s: the year of birth must be between 1900 and this year.",
                             value=cell_text(value)[:40]))


def parse_birth_year(value, *, today):
    """(year, estimated) from a year-of-birth cell: 1950, "1950年", or an age written there
    instead ("75岁", 75: the year counted back from `today`, estimated). None for an empty
    cell."""
    if is_blank(value):
        return None
    text = _plain(value).removesuffix("年")
    if text.isdecimal() and len(text) == 4:
        year = int(text)
        _check_year(year, today, value)
        return year, False
    try:
        return year_from_age(parse_age(value), today), True
    except InvalidInput:
        raise InvalidInput(_("%(value)s is not a year of birth (write it like 1950, or the age "
                             "like 75岁).", value=cell_text(value)[:40])) from None


@dataclass(frozen=True)
class Birthday:
    """What a birthday cell said: a solar date, a lunar one, only a year, or an age."""
    solar: date | None = None
    lunar: LunarDate | None = None
    year: int | None = None
    #: The year was counted back from an age.
    estimated: bool = False
    age: int | None = None


def parse_birthday(value, *, today):
    """Whatever a birthday column holds: a solar date in any form parse_date reads, a lunar one
    in words (腊月初八, 农历三月初八), only a year (1950), or an age (75岁, 75). None for an
    empty cell."""
    if is_blank(value):
        return None
    if isinstance(value, (datetime, date)):
        return Birthday(solar=parse_date(value))
    if _is_number(value) and float(value).is_integer():
        number = int(value)
        if 1 <= number <= OLDEST_AGE:
            return Birthday(year=year_from_age(number, today), estimated=True, age=number)
        if OLDEST_YEAR <= number <= today.year:
            return Birthday(year=number)
    text = _plain(value)
    if "岁" in text or (text.isdecimal() and len(text) <= 3):
        age = parse_age(value)
        return Birthday(year=year_from_age(age, today), estimated=True, age=age)
    if (year := text.removesuffix("年")).isdecimal() and len(year) == 4:
        _check_year(int(year), today, value)
        return Birthday(year=int(year))
    if _LUNAR_HINT.search(text):
        lunar = parse_lunar(value, today=today)
        return Birthday(lunar=lunar, year=lunar.year)
    return Birthday(solar=_date_from_text(text, value, 1900))


# --- Phones ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Phone:
    #: A mobile as its 11 digits (13800138000); a landline as 010-65123456 (or 65123456).
    number: str
    mobile: bool


#: What separates two numbers in one cell (a space may too: see _numbers_in).
_PHONE_SEPARATORS = re.compile(r"[/,，、;；|\\\n]|或者|或")
#: What joins the digits of one number (138-0013-8000, (010)65123456).
_PHONE_JOINERS = re.compile(r"[-－—–()（）.]")
_MOBILE = re.compile(r"1[3-9]\d{9}")
#: With an area code (0 and 9–11 digits), or a local number of 7–8 digits.
_LANDLINE = re.compile(r"0\d{9,11}|[2-9]\d{6,7}")


def _national(digits):
    """Without +86 / 0086 / 86 in front of a mobile."""
    if digits.startswith("+86"):
        return digits[3:]
    if digits.startswith("0086"):
        return digits[4:]
    if digits.startswith("86") and len(digits) > 4 and digits[2] == "1":
        return digits[2:]
    return digits


def _numbers_in(part):
    """The numbers of one separated piece. Spaces are ambiguous (138 0013 8000 is one number,
    13800138000 13900139000 two): the groups of digits are joined until they make a mobile, or
    until the next group would make the number longer than any phone."""
    numbers, current = [], ""
    for group in re.sub(r"[^\d+\s]", "", _PHONE_JOINERS.sub("", part)).split():
        if current and (_MOBILE.fullmatch(_national(current))
                        or len(_national(current + group)) > 12):
            numbers.append(current)
            current = ""
        current += group
    if current:
        numbers.append(current)
    return numbers


def parse_phones(value):
    """The phone numbers of a cell, in their order: spaces, dashes, +86 / 0086 in front, and
    two numbers in one cell (separated by / , ， 、 ; a space or 或). Labels around them
    (手机：, (本人)) are dropped. [] for an empty cell; InvalidInput for digits that are no
    phone number."""
    if is_blank(value):
        return []
    if isinstance(value, str) and _MOBILE.fullmatch(value):  # most cells: nothing to read
        return [Phone(value, True)]
    phones = []
    for part in _PHONE_SEPARATORS.split(_plain(value)):
        for raw in _numbers_in(part):
            number = _national(raw)
            if _MOBILE.fullmatch(number):
                phones.append(Phone(number, True))
            elif _LANDLINE.fullmatch(number):
                if number[0] == "0":  # 010 and 02x have three digits, other area codes four
                    area = 3 if number[1] in "12" else 4
                    number = f"{number[:area]}-{number[area:]}"
                phones.append(Phone(number, False))
            elif number.startswith("1"):
                raise InvalidInput(_("%(value)s is not a valid mobile number.", value=raw[:30]))
            else:
                raise InvalidInput(_("%(value)s is not a phone number.", value=raw[:30]))
    return phones


# --- Names and other text ----------------------------------------------------------------------

#: Forms of address written after a surname instead of the given name (张阿姨, 王老师).
TITLES = ("阿姨", "老师", "大爷", "大妈", "大娘", "大叔", "叔叔", "叔", "婶子", "婶", "奶奶",
          "爷爷", "姥姥", "姥爷", "外婆", "外公", "阿婆", "婆婆", "阿公", "伯伯", "大伯",
          "老伯", "伯", "大姐", "姐", "大哥", "哥", "先生", "女士", "师傅", "老板", "总",
          "经理", "主任", "医生", "大夫")
_TITLE_SET = frozenset(TITLES)
_WHITESPACE = re.compile(r"\s+")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class Name:
    text: str
    #: The form of address the name ends with (阿姨 of 张阿姨), or "".
    title: str = ""


def parse_name(value):
    """A person's name as typed, spaces inside a Chinese name dropped (张  三, spaced to line up
    with three-character names, is 张三), and the form of address it ends with when it is a
    surname and a title (张阿姨, 欧阳老师, 老王) — kept as typed: the caller may flag it."""
    text = cell_text(value)
    text = _WHITESPACE.sub(" " if _LATIN.search(text) else "", text)
    title = ""
    if len(text) == 2 and text[0] == "老" and not _LATIN.search(text):
        title = "老"
    else:  # a title of two characters first (赵叔叔 is 叔叔, not 叔)
        for size in (2, 1):
            if text[-size:] in _TITLE_SET and 1 <= len(text) - size <= 2:
                title = text[-size:]
                break
    return Name(text, title)


_GENDERS = {"男": "M", "男性": "M", "m": "M", "male": "M", "女": "F", "女性": "F", "f": "F",
            "female": "F"}


def parse_gender(value):
    """"M", "F", or "" for an empty cell, from 男/女 (男性, M, male…)."""
    text = cell_text(value).lower()
    if not text:
        return ""
    if text not in _GENDERS:
        raise InvalidInput(_("Gender must be 男 or 女, not %(value)s.", value=text[:20]))
    return _GENDERS[text]


YES = {"是", "y", "yes", "true", "1", "√", "对", "✓", "有"}


def parse_yes_no(value):
    """True for 是 / √ / yes / 1 and the like; anything else is no."""
    return cell_text(value).lower() in YES


# --- Amounts and counts ------------------------------------------------------------------------

_MONEY_NOISE = re.compile(r"[\s,，¥￥]|元整?$|^人民币|RMB", re.IGNORECASE)


def parse_fen(value):
    """An amount of money in fen from yuan as typed: 1234.5, "¥1,234.50", "1234.50元",
    "1.2万". Negative amounts are returned as such (the caller decides). None for an empty
    cell."""
    if is_blank(value):
        return None
    text = _MONEY_NOISE.sub("", _plain(value))
    scale = 1
    if text.endswith("万"):
        text, scale = text[:-1], 10000
    try:
        yuan = Decimal(text) * scale
    except InvalidOperation:
        yuan = None
    if yuan is None or not yuan.is_finite() or yuan != yuan.quantize(Decimal("0.01")) \
            or abs(yuan) >= 10 ** 12:
        raise InvalidInput(_("%(value)s is not an amount of money (write it like 1234.50).",
                             value=cell_text(value)[:30]))
    return int(yuan * 100)


_COUNT = re.compile(r"(\d+)\s*[^\d\s]{0,2}")


def parse_count(value):
    """A whole number of at least 0, with a unit after it or not: 3, "3", "3盒". None for an
    empty cell."""
    if is_blank(value):
        return None
    if _is_number(value) and float(value).is_integer() and value >= 0:
        return int(value)
    match = _COUNT.fullmatch(_plain(value))
    if match is None or len(match[1]) > 9:
        raise InvalidInput(_("%(value)s is not a whole number.", value=cell_text(value)[:30]))
    return int(match[1])

"""Customer input rules (normalising, birthdays) and reads (search, filters, counts)."""
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from flask_babel import gettext as _
from pypinyin import lazy_pinyin
from sqlalchemy import and_, any_, func, or_, select, union

from extensions import db
from models.accounts import normalise_mobile
from models.audit import audit
from models.base import Conflict, InvalidInput, PermissionDenied, among, utcnow
from models.clock import day_start, local_day
from models.customers.birthdays import check_lunar_birthday
from models.customers.tables import (GENDERS, GRADES, RFM_SCORES, STATUSES, Channel, Customer,
                                     CustomerRfm, NamePart, OwnershipChange, customer_tags)
from models.scoping import can_see_full_phone, department_subtree_ids, get_scoped_or_404, scoped
from models.settings import get_setting

# --- Normalising input -------------------------------------------------------------------------

class _Kept(str):
    """Text pypinyin has no pinyin for (Latin letters, digits, a rare character), as typed."""


_NOT_PINYIN = re.compile(r"[^0-9a-z]")


@lru_cache(maxsize=20_000)  # names repeat (张伟, 王秀英): an import of 100,000 reads each once
def pinyin_of(name):
    """(full pinyin, initials) of a name, lower-case, no spaces: 张三 → ("zhangsan", "zs").
    One pass of pypinyin: a character's initial is the first letter of its plain pinyin (as
    Style.FIRST_LETTER makes it), text without pinyin is kept whole in both."""
    syllables, initials = [], []
    for s in lazy_pinyin(name or "", errors=_Kept):
        if s.strip():
            syllables.append(s.lower())
            initials.append((s if type(s) is _Kept else s[0]).lower())
    return _NOT_PINYIN.sub("", "".join(syllables)), _NOT_PINYIN.sub("", "".join(initials))


def normalise_phone(raw, field="phone", required=True):
    """A mainland mobile in E.164, or InvalidInput with the reason."""
    if required and not (raw or "").strip():
        raise InvalidInput(_("Enter the mobile number."), field=field)
    return normalise_mobile(raw, field=field)


@dataclass(slots=True)  # slots: an import's dry run keeps one per row (100,000)
class CustomerData:
    """What a person may type about a customer (the form, or an import row), unchecked."""
    name: str = ""
    phone: str = ""
    gender: str = ""
    phone2: str = ""
    address: str = ""
    district: str = ""
    channel_id: int | None = None
    referrer_id: int | None = None
    grade: str = ""
    health_notes: str = ""
    notes: str = ""
    family_name: str = ""
    family_relation: str = ""
    family_phone: str = ""
    birthday_kind: str = ""
    birthday: date | None = None
    lunar_month: int | None = None
    lunar_day: int | None = None
    lunar_leap: bool = False
    birth_year: int | None = None
    #: The year of birth was counted back from an age (an import's "75岁").
    birth_year_estimated: bool = False
    anniversary: date | None = None
    do_not_call: bool = False
    do_not_sms: bool = False
    tag_ids: tuple = ()
    #: How messages address the customer (阿姨: 张阿姨); None leaves it as it is (an import).
    address_form: str | None = None


def clean_customer_data(data, *, today, own_id=None, actor=None, search_keys=True):
    """Check CustomerData (the same rules for the form and an import row); return a dict of
    column values. Raises InvalidInput. `search_keys=False`: the name's pinyin is left out
    (an import's dry run, which checks and writes nothing: a fifth of its time)."""
    name = (data.name or "").strip()
    if not name:
        raise InvalidInput(_("Enter the customer's name."), field="name")
    if len(name) > 40:
        raise InvalidInput(_("The name can be at most 40 characters."), field="name")
    values = {"name": name, "phone": normalise_phone(data.phone),
              "phone2": normalise_phone(data.phone2, field="phone2", required=False),
              "gender": data.gender if data.gender in GENDERS else "",
              "address": (data.address or "").strip()[:200],
              "district": (data.district or "").strip()[:40],
              "health_notes": (data.health_notes or "").strip(),
              "notes": (data.notes or "").strip(),
              "family_name": (data.family_name or "").strip()[:40],
              "family_relation": (data.family_relation or "").strip()[:20],
              "family_phone": normalise_phone(data.family_phone, field="family_phone",
                                              required=False),
              "do_not_call": bool(data.do_not_call), "do_not_sms": bool(data.do_not_sms),
              "anniversary": data.anniversary}
    if data.address_form is not None:
        address_form = data.address_form.strip()
        if len(address_form) > 10 or "{" in address_form or "}" in address_form:
            raise InvalidInput(_("The form of address is a short word such as 阿姨 or 老师."),
                               field="address_form")
        values["address_form"] = address_form
    if values["family_phone"] and not values["family_name"]:
        raise InvalidInput(_("Enter the family contact's name with their phone."),
                           field="family_name")
    if data.grade and data.grade not in GRADES:
        raise InvalidInput(_("The grade must be A, B, C or D."), field="grade")
    values["grade"] = data.grade or ""
    if search_keys:
        values["name_pinyin"], values["name_initials"] = pinyin_of(name)
    values["phone_reversed"] = values["phone"][3:][::-1]
    if data.channel_id and db.session.get(Channel, data.channel_id) is None:
        raise InvalidInput(_("Unknown source channel."), field="channel_id")
    values["channel_id"] = data.channel_id or None
    if data.referrer_id:
        if own_id is not None and data.referrer_id == own_id:
            raise InvalidInput(_("A customer cannot be their own referrer."),
                               field="referrer_id")
        referrer = db.session.get(Customer, data.referrer_id) if data.referrer_id < 2**31 \
            else None
        if referrer is None or (actor is not None and not db.session.scalar(
                visible_customers(actor).with_only_columns(Customer.id)
                .where(Customer.id == referrer.id))):
            raise InvalidInput(_("The referrer does not exist."), field="referrer_id")
        if own_id is not None:  # A refers B refers A: walk up the referrer's chain
            seen, up = set(), referrer
            while up is not None and up.referrer_id and up.id not in seen:
                seen.add(up.id)
                if up.referrer_id == own_id:
                    raise InvalidInput(_("%(name)s was referred (directly or through others) "
                                         "by this customer: referrals cannot go in a circle.",
                                         name=referrer.name), field="referrer_id")
                up = db.session.get(Customer, up.referrer_id)
    values["referrer_id"] = data.referrer_id or None
    if data.anniversary and data.anniversary > today:
        raise InvalidInput(_("The anniversary cannot be in the future."), field="anniversary")
    values.update(_clean_birthday(data, today))
    return values


def _clean_birthday(data, today):
    """The birthday columns of CustomerData. `birthday_kind` says which date the care list
    follows; the other date, when given too, is kept (an old spreadsheet may give both)."""
    kind = data.birthday_kind if data.birthday_kind in ("solar", "lunar") else ""
    solar = data.birthday if kind else None
    lunar = kind and (data.lunar_month or data.lunar_day)
    if (kind == "solar" and not solar) or (kind == "lunar" and not lunar):
        kind, solar, lunar = "", None, None
    values = {"birthday_kind": kind, "birthday": None, "lunar_month": None, "lunar_day": None,
              "lunar_leap": False, "birth_year": None, "birth_month": None,
              "birth_year_estimated": False}
    if solar:
        if solar > today:
            raise InvalidInput(_("The birthday cannot be in the future."), field="birthday")
        if solar.year < 1900:
            raise InvalidInput(_("The birthday is too long ago."), field="birthday")
        values.update(birthday=solar, birth_year=solar.year, birth_month=solar.month)
    elif data.birth_year:
        if not 1900 <= data.birth_year <= today.year:
            raise InvalidInput(_("The year of birth must be between 1900 and this year."),
                               field="birth_year")
        values.update(birth_year=data.birth_year,
                      birth_year_estimated=bool(data.birth_year_estimated))
    if lunar:
        # The day must exist in the lunar year of birth, when that is known (a solar date's
        # year may be the lunar year before; an estimated year is a guess).
        year = values["birth_year"] if not solar and not values["birth_year_estimated"] \
            else None
        check_lunar_birthday(data.lunar_month, data.lunar_day, data.lunar_leap, year)
        values.update(lunar_month=data.lunar_month, lunar_day=data.lunar_day,
                      lunar_leap=bool(data.lunar_leap))
    return values


# --- Reads -------------------------------------------------------------------------------------

def find_by_phone(phone):
    """The customer with this mobile (any format), or None."""
    try:
        normalised = normalise_phone(phone)
    except InvalidInput:
        return None
    return db.session.scalar(select(Customer).where(Customer.phone == normalised))


def visible_customers(user):
    """A select of the customers `user` may see (own + pool for a marketer, and so on)."""
    return scoped(select(Customer), user, Customer)


def get_customer_or_404(customer_id, user):
    """The customer if `user` may see them, else NotFound."""
    return get_scoped_or_404(Customer, customer_id, user)


def _prefix(column, text):
    """column starts with `text`, as an index-friendly range (no LIKE, no escaping). The bound
    is the last code point: a rare character of a name (王𬌗) lies beyond U+FFFF."""
    return and_(column >= text, column < text + "\U0010ffff")


def name_tails(name):
    """What a name is found by besides its start: 张秀兰 → 秀兰, 兰 (its NamePart rows)."""
    return [name[start:] for start in range(1, len(name))]


def name_parts(name):
    """The NamePart rows of a name (name_tails)."""
    return [NamePart(part=part) for part in name_tails(name)]


def _by_name(text):
    """Customers whose name, or a part of it (NamePart), starts with `text`: two index ranges,
    put as each database's planner reads them best (measured on 200,000 customers, a marketer's
    scope beside). SQLite: one IN (… UNION …), read first: 3 ms, where the name range alone
    took 14 beside the scope's OR. PostgreSQL: the name range OR id = ANY(ARRAY(parts)), two
    bitmaps it combines with the scope's; an IN (subquery) inside an OR is tested row by row
    over every customer, and an IN (… UNION …) became a hash join over the whole scope."""
    starts = _prefix(Customer.name, text)
    parts = select(NamePart.customer_id).where(_prefix(NamePart.part, text))
    if db.session.get_bind().dialect.name == "postgresql":
        return or_(starts, Customer.id == any_(func.array(parts.scalar_subquery())))
    return Customer.id.in_(union(select(Customer.id).where(starts), parts))


def search_clause(text):
    """The WHERE clause of the one search box: a phone tail (4–10 digits), a full phone (11 or
    more), a customer number (1–3), pinyin or initials from their start, or any part of a
    name. None for an empty box. The door tablet's offline search (static/js/door/search.js)
    follows the same rules; tests/data/door_search_cases.json holds both to them."""
    text = (text or "").strip()
    if not text:
        return None
    digits = re.sub(r"[\s-]", "", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    if digits.isdecimal() and digits.isascii():
        if len(digits) >= 11:
            phone = "+86" + digits[-11:]
            return or_(Customer.phone == phone, Customer.phone2 == phone)
        if len(digits) >= 4:
            return _prefix(Customer.phone_reversed, digits[::-1])
        return Customer.id == int(digits)  # 1–3 digits: the customer number
    lowered = text.lower().replace(" ", "")
    if re.fullmatch(r"[a-z]+", lowered):
        return or_(_prefix(Customer.name_initials, lowered),
                   _prefix(Customer.name_pinyin, lowered))
    return _by_name(text)  # from its start or its middle


@dataclass
class CustomerFilter:
    """The filters of the customer list (None/empty means any)."""
    q: str = ""
    owner_id: int | None = None
    department_id: int | None = None
    grade: str = ""
    tag_id: int | None = None
    channel_id: int | None = None
    status: str = ""
    birth_month: int | None = None
    #: Only customers whose last contact is older than this many days (or never).
    idle_days: int | None = None
    #: RFM: only customers scored at least this much on each (1–5; None or 0: any).
    min_recency: int | None = None
    min_frequency: int | None = None
    min_monetary: int | None = None
    sort: str = "recent"


SORTS = {
    "recent": (Customer.created_at.desc(), Customer.id.desc()),
    "name": (Customer.name_pinyin, Customer.id),
    "last_contact": (Customer.last_contact_at.is_(None).desc(), Customer.last_contact_at,
                     Customer.id),
    "grade": (Customer.grade == "", Customer.grade, Customer.id),
}


def find_customers(user, filters, now=None):
    """A select of the customers `user` may see that match `filters`, sorted."""
    query = visible_customers(user)
    if (clause := search_clause(filters.q)) is not None:
        query = query.where(clause)
    if filters.owner_id:
        query = query.where(Customer.owner_id == filters.owner_id)
    if filters.department_id:
        query = query.where(Customer.department_id.in_(
            department_subtree_ids(filters.department_id)))
    if filters.grade in GRADES:
        query = query.where(Customer.grade == filters.grade)
    if filters.tag_id:
        query = query.where(Customer.id.in_(select(customer_tags.c.customer_id).where(
            customer_tags.c.tag_id == filters.tag_id)))
    if filters.channel_id:
        query = query.where(Customer.channel_id == filters.channel_id)
    if filters.status in STATUSES:
        query = query.where(Customer.status == filters.status)
    if filters.birth_month:
        query = query.where(or_(Customer.birth_month == filters.birth_month,
                                and_(Customer.birthday_kind == "lunar",
                                     Customer.lunar_month == filters.birth_month)))
    if filters.idle_days:
        cutoff = (now or utcnow()) - timedelta(days=filters.idle_days)
        query = query.where(or_(Customer.last_contact_at.is_(None),
                                Customer.last_contact_at < cutoff))
    if (clause := rfm_clause(filters)) is not None:
        query = query.where(Customer.id.in_(select(CustomerRfm.customer_id).where(*clause)))
    if (filters.q or "").strip():
        query = _few_found_first(query)
    return query.order_by(*SORTS.get(filters.sort, SORTS["recent"]))


#: A search that finds at most this many customers is sorted from their ids.
FEW_FOUND = 20000


def _few_found_first(query):
    """A search's query, narrowed to the ids it finds when they are not too many (FEW_FOUND):
    found through the search's own indexes, unsorted, then sorted as the list asks, and their
    number handed to the list's count (execution option `found_count`: no second count).
    Sorted at once, PostgreSQL walked every customer by date to find the newest 30 matches
    (two letters of initials in a marketer's own and pool customers at two million: 150–230
    ms, and as much again to count them); a search finding more keeps that walk (matches are
    dense then) and says it found more than FEW_FOUND (`found_at_least`)."""
    found = db.session.scalars(query.with_only_columns(
        Customer.id, maintain_column_froms=True).limit(FEW_FOUND + 1)).all()
    if len(found) > FEW_FOUND:
        return query.execution_options(found_at_least=len(found))
    return query.where(among(Customer.id, found)).execution_options(found_count=len(found))


def rfm_clause(filters):
    """The conditions on CustomerRfm of the filters' minimum scores, or None when none is set
    (a customer never scored — never bought — passes no minimum)."""
    wanted = [(column, minimum) for column, minimum in (
        (CustomerRfm.recency_score, filters.min_recency),
        (CustomerRfm.frequency_score, filters.min_frequency),
        (CustomerRfm.monetary_score, filters.min_monetary)) if minimum in RFM_SCORES]
    if not wanted:
        return None
    return [column >= minimum for column, minimum in wanted]


def rfm_of(customer_ids):
    """{customer id: CustomerRfm} of those customers who have scores (one query)."""
    ids = list(customer_ids)
    if not ids:
        return {}
    return {row.customer_id: row for row in db.session.scalars(
        select(CustomerRfm).where(CustomerRfm.customer_id.in_(ids)))}


def duplicate_of(phone, own_id=None):
    """The customer who already has this mobile (other than `own_id`), or None."""
    query = select(Customer).where(Customer.phone == phone)
    if own_id is not None:
        query = query.where(Customer.id != own_id)
    return db.session.scalar(query)


class DuplicateCustomer(Conflict):
    """The mobile belongs to another customer; `existing` is that customer."""

    def __init__(self, existing):
        super().__init__(_("This mobile already belongs to customer %(name)s (No. %(id)s).",
                           name=existing.name, id=existing.id), field="phone")
        self.existing = existing


def claims_today(user, now=None):
    """How many customers `user` has claimed from the pool today (company time zone)."""
    now = now or utcnow()
    start = day_start(local_day(now))
    return db.session.scalar(select(func.count(OwnershipChange.id)).where(
        OwnershipChange.actor_id == user.id, OwnershipChange.kind == "claim",
        OwnershipChange.at >= start)) or 0


def owned_count(user):
    return db.session.scalar(select(func.count(Customer.id)).where(
        Customer.owner_id == user.id, Customer.status != "pool")) or 0


def may_export(user):
    """Exporting the customer list is a permission (a setting: which roles)."""
    return user.has_role(*get_setting("customers.export_roles"))


def reveal_phone(customer, *, actor, ip=None, now=None):
    """Return the full mobile numbers for an allowed user, recording that they looked."""
    if not can_see_full_phone(actor, owner_id=customer.owner_id,
                              department_id=customer.department_id):
        raise PermissionDenied(_("Only the owner, their department head, managers and "
                                 "administrators may see the full number."))
    audit(actor, "customer.show_phone", customer, summary=customer.name, ip=ip, now=now)
    return customer.phone_national, (customer.phone2[3:] if customer.phone2.startswith("+86")
                                     else customer.phone2)

"""Customers in and out of spreadsheets: .xlsx import (upload → map columns → dry run → confirm,
all or nothing), and the rows of the template and of the export of a filtered list (written by
reports/xlsx.py). Cells are read by models.customers.parsing, as old spreadsheets write them
(lunar birthdays in words, ages for years, two phones in a cell…); a formula is refused."""
import re
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _, lazy_gettext as _l
from openpyxl.utils import get_column_letter
from sqlalchemy import ForeignKey, Integer, JSON, LargeBinary, String, select
from sqlalchemy.orm import Mapped, defer, mapped_column, selectinload

from extensions import db
from formatting import local_dt, masked_phone
from models import customers as c
from models.customers import parsing as p
from models.customers.sheets import Formula, read_sheet
from models.accounts import User
from models.audit import audit, register_targets
from models.base import (Conflict, InvalidInput, NotFound, PermissionDenied, UTCDateTime,
                         new_token, utcnow)
from models.clock import local_day
from models.scoping import can_see_full_phone
from models.settings import get_setting


@dataclass(frozen=True)
class ImportField:
    key: str
    label: object
    required: bool = False
    #: Header texts that map to this field without asking (lower-case).
    aliases: tuple = ()


IMPORT_FIELDS = [
    ImportField("name", _l("Name"), True, ("姓名", "顾客姓名", "客户姓名", "name")),
    ImportField("phone", _l("Mobile"), True, ("手机", "手机号", "手机号码", "电话", "联系电话",
                                               "mobile", "phone")),
    ImportField("gender", _l("Gender"), False, ("性别", "gender")),
    ImportField("phone2", _l("Second phone"), False, ("备用电话", "第二电话", "phone2")),
    ImportField("district", _l("District"), False, ("区域", "片区", "区县", "district")),
    ImportField("address", _l("Address"), False, ("地址", "住址", "address")),
    ImportField("channel", _l("Source channel"), False, ("来源", "来源渠道", "渠道", "channel")),
    ImportField("grade", _l("Grade"), False, ("等级", "级别", "grade")),
    ImportField("birthday", _l("Solar birthday"), False, ("生日", "出生日期", "阳历生日",
                                                           "公历生日", "birthday")),
    ImportField("lunar_birthday", _l("Lunar birthday (month-day)"), False,
                ("农历生日", "阴历生日", "lunar birthday")),
    ImportField("birth_year", _l("Year of birth"), False, ("出生年份", "出生年", "年份",
                                                            "birth year")),
    ImportField("age", _l("Age"), False, ("年龄", "岁数", "age")),
    ImportField("owner", _l("Owner (sign-in name or name)"), False,
                ("业务员", "归属业务员", "归属", "owner")),
    ImportField("tags", _l("Tags (separated by commas)"), False, ("标签", "tags")),
    ImportField("health_notes", _l("Health notes"), False, ("健康备注", "健康情况", "身体状况",
                                                             "health notes")),
    # 备注 in an old spreadsheet is about anything: the general notes, not the health notes.
    ImportField("notes", _l("Notes"), False, ("备注", "说明", "其他", "notes")),
    ImportField("do_not_call", _l("Do not call (yes/no)"), False, ("勿扰", "勿电", "拒接电话",
                                                                   "do not call")),
]
FIELDS_BY_KEY = {f.key: f for f in IMPORT_FIELDS}
TEMPLATE_EXAMPLE = {"name": "张秀兰", "phone": "13800138000", "gender": "女",
                    "district": "朝阳区", "address": "幸福里小区3号楼", "channel": "转介绍",
                    "grade": "B", "birthday": "1952-03-08", "lunar_birthday": "",
                    "owner": "", "tags": "高血压,老会员", "health_notes": "",
                    "notes": "", "do_not_call": "否"}


class ImportBatch(db.Model):
    """An uploaded spreadsheet waiting for its column mapping and confirmation."""
    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: In the URL instead of the id: unguessable.
    token: Mapped[str] = mapped_column(String(36), unique=True, default=new_token)
    filename: Mapped[str] = mapped_column(String(200))
    #: The file itself (kept in the database: any worker on any host can continue the import).
    content: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[list] = mapped_column(JSON)
    row_count: Mapped[int] = mapped_column(Integer)
    #: {field key: column index}
    mapping: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="uploaded")
    #: Counts after confirmation: {"created": n, "duplicates": n}
    result: Mapped[dict | None] = mapped_column(JSON)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- Reading a workbook ------------------------------------------------------------------------

#: An Excel 97–2003 (.xls) file, or an encrypted .xlsx: both are OLE2 compound files.
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _read(content):
    """(headers, the data rows: an iterator of lists of cell values, a formula cell's value a
    Formula) of the first sheet, the rows read as they are asked for (a file of 100,000 rows is
    never held whole: issue 26). Raises InvalidInput: for the file and its headers at once, for
    a sheet too long or without rows as its rows are read."""
    if content[:8] == OLE2_MAGIC:
        raise InvalidInput(_("This is an old Excel file (.xls) or one protected by a password: "
                             "open it in Excel or WPS, remove the password if it has one, and "
                             "save it as .xlsx."), field="file")
    try:
        # Formulas are seen (as Formula), to be refused: never their cached value.
        rows = read_sheet(content)
    except Exception:  # any unreadable file (bad zip, bad XML inside, not a workbook at all)
        raise InvalidInput(_("This file is not an .xlsx spreadsheet (save it from Excel or "
                             "WPS as .xlsx and try again)."), field="file") from None
    try:
        number, headers = next(rows, (None, None))
        if number != 1 or not any(h not in (None, "") for h in headers):
            raise InvalidInput(_("The first row of the sheet must hold the column headers."),
                               field="file")
    except BaseException:
        rows.close()
        raise
    return ["" if h is None else str(h).strip() for h in headers], _data(rows)


def _data(rows):
    """The rows after the headers that hold anything, up to the setting's limit."""
    limit = get_setting("customers.import_max_rows")
    count = 0
    try:
        for _number, row in rows:
            if all(value is None or value == "" for value in row):
                continue
            count += 1
            if count > limit:
                raise InvalidInput(_("The sheet has more than %(n)s rows; split it into "
                                     "smaller files.", n=limit), field="file")
            yield row
    finally:
        rows.close()
    if not count:
        raise InvalidInput(_("The sheet has headers but no rows."), field="file")


def guess_mapping(headers):
    """{field key: column index} for headers that match a field's aliases."""
    mapping = {}
    for index, header in enumerate(headers):
        key = header.strip().lower()
        for f in IMPORT_FIELDS:
            if f.key not in mapping and (key in f.aliases or key == str(f.label).lower()):
                mapping[f.key] = index
                break
    return mapping


def upload(filename, content, *, actor, now=None):
    """Keep an uploaded spreadsheet for mapping; check it is a readable .xlsx first (read to
    its end: its rows counted, none kept)."""
    headers, rows = _read(content)
    row_count = sum(1 for _row in rows)
    batch = ImportBatch(filename=(filename or "import.xlsx")[:200], content=content,
                        headers=headers, row_count=row_count, mapping=guess_mapping(headers),
                        created_by_id=actor.id, created_at=now or utcnow())
    db.session.add(batch)
    db.session.flush()
    return batch


def get_batch_or_404(token, actor):
    """The actor's own pending import, by its token."""
    batch = db.session.scalar(select(ImportBatch).where(ImportBatch.token == str(token),
                                                        ImportBatch.created_by_id == actor.id))
    if batch is None:
        raise NotFound(_("This import does not exist or is not yours."))
    return batch


def batches_of(actor, limit=100):
    """导入记录: the actor's latest customer imports."""
    return db.session.scalars(select(ImportBatch).where(ImportBatch.created_by_id == actor.id)
                              .options(defer(ImportBatch.content))
                              .order_by(ImportBatch.id.desc()).limit(limit)).all()


def set_mapping(batch, mapping):
    """Save the column mapping: name and mobile are required; a column maps to one field."""
    clean = {key: int(index) for key, index in mapping.items()
             if key in FIELDS_BY_KEY and index is not None and int(index) >= 0}
    for f in IMPORT_FIELDS:
        if f.required and f.key not in clean:
            raise InvalidInput(_("Choose the column that holds %(field)s.", field=f.label),
                               field=f.key)
    if any(index >= len(batch.headers) for index in clean.values()):
        raise InvalidInput(_("Unknown column."))
    if len(set(clean.values())) != len(clean):
        raise InvalidInput(_("A column can be used for one field only."))
    batch.mapping = clean
    db.session.flush()


# --- Dry run and confirmation ------------------------------------------------------------------

@dataclass(slots=True)  # slots: a dry run keeps one per row (100,000)
class RowResult:
    number: int  # the row number in the spreadsheet (headers are row 1)
    status: str  # "create", "duplicate", "invalid"
    name: str = ""
    phone: str = ""
    message: str = ""
    existing_id: int | None = None
    data: c.CustomerData | None = None
    #: The columns data becomes (c.clean_customer_data), for the confirmation.
    values: dict | None = None
    owner: User | None = None
    #: How cells were read that is worth a look (a name with a title, an estimated year, two
    #: birthdays…): not errors.
    notes: list | tuple = ()


class _Lookups:
    """Names → ids for channels, tags and owners, read once per import."""

    def __init__(self, actor):
        # Held here, so the session's identity map keeps them: clean_customer_data gets the
        # channel of every row without a query.
        self.channel_rows = db.session.scalars(select(c.Channel)).all()
        self.channels = {ch.name: ch.id for ch in self.channel_rows}
        self.tags = {t.name: t.id for t in db.session.scalars(select(c.Tag))}
        # A plain marketer imports only for themself; heads and managers for their marketers.
        marketers = c.active_marketers(actor) if actor.has_role("admin", "manager",
                                                                "dept_head") else [actor]
        self.owners = {}
        for user in marketers:
            self.owners.setdefault(user.username.lower(), user)
            self.owners.setdefault(user.display_name, user)


def _row_data(values, lookups, actor, today):
    """CustomerData and owner of one row, and notes on how its cells were read (kept as typed,
    but worth a look); InvalidInput for a cell that makes no sense."""
    get = values.get
    notes = []
    name = p.parse_name(get("name"))
    if name.title:
        notes.append(_("The name contains a form of address (%(title)s): kept as typed.",
                       title=name.title))
    data = c.CustomerData(name=name.text, district=p.cell_text(get("district")),
                          address=p.cell_text(get("address")),
                          health_notes=p.cell_text(get("health_notes")),
                          grade=p.cell_text(get("grade")).upper(),
                          gender=p.parse_gender(get("gender")),
                          do_not_call=p.parse_yes_no(get("do_not_call")))
    other_phones = _phones(data, get("phone"), get("phone2"), notes)
    data.notes = "\n".join(filter(None, [p.cell_text(get("notes")), other_phones and _(
        "Other phones: %(numbers)s", numbers="、".join(other_phones))]))
    _birthday(data, values, today, notes)
    if channel := p.cell_text(get("channel")):
        if channel not in lookups.channels:
            raise InvalidInput(_("Unknown source channel: %(value)s.", value=channel))
        data.channel_id = lookups.channels[channel]
    if tags := p.cell_text(get("tags")):
        names = [t.strip() for t in re.split(r"[,，、;；]", tags) if t.strip()]
        unknown = [t for t in names if t not in lookups.tags]
        if unknown:
            raise InvalidInput(_("Unknown tag: %(value)s.", value="、".join(unknown)))
        data.tag_ids = tuple(lookups.tags[t] for t in names)
    owner = None
    if owner_text := p.cell_text(get("owner")):
        owner = lookups.owners.get(owner_text.lower()) or lookups.owners.get(owner_text)
        if owner is None:
            raise InvalidInput(_("Unknown marketer (or not yours to assign): %(value)s.",
                                 value=owner_text))
    elif not actor.has_role("marketer"):
        raise InvalidInput(_("Say which marketer the customer belongs to."))
    return data, owner, notes


def _phones(data, phone_cell, phone2_cell, notes):
    """The first mobile of the phone cell is the customer's; the next mobile (the second-phone
    column's first) their second phone. Returns the other numbers (for the notes)."""
    phones = p.parse_phones(phone_cell)
    mobiles = [x.number for x in phones if x.mobile]
    if phones and not mobiles:
        raise InvalidInput(_("%(value)s has no mobile number: a landline alone is not enough "
                             "(a customer is found by their mobile).",
                             value=p.cell_text(phone_cell)[:40]))
    data.phone = mobiles[0] if mobiles else ""
    second = p.parse_phones(phone2_cell)
    others = [x.number for x in second if x.mobile] + mobiles[1:]
    if others:
        data.phone2 = others.pop(0)
        if len(mobiles) > 1:
            notes.append(_("Two mobiles in one cell: %(phone2)s is kept as the second phone.",
                           phone2=mobiles[1]))
    others += [x.number for x in phones + second if not x.mobile]
    if others:
        notes.append(_("Other numbers kept in the notes: %(numbers)s.",
                       numbers="、".join(others)))
    return others


def _birthday(data, values, today, notes):
    """The birthday columns: a solar date, a lunar one (in words or digits), a year, an age —
    each in whatever column it was typed. With both dates, the lunar one is what the care list
    follows (old customers keep their lunar birthday) and the solar one is kept beside it."""
    get = values.get
    said = p.parse_birthday(get("birthday"), today=today) or p.Birthday()
    lunar = p.parse_lunar(get("lunar_birthday"), today=today) or said.lunar
    year, estimated, age = said.year, said.estimated, said.age
    if said.solar:
        year, estimated = said.solar.year, False
    elif lunar and lunar.year:
        year, estimated = lunar.year, False
    if (given := p.parse_birth_year(get("birth_year"), today=today)) is not None:
        if year is None or (estimated and not given[1]):
            year, estimated = given
        if given[1]:
            age = today.year - given[0]
    if (age_cell := p.parse_age(get("age"))) is not None:
        age = age_cell
        if year is None:
            year, estimated = p.year_from_age(age_cell, today), True
    if said.solar and lunar:
        data.birthday_kind = "lunar"
        notes.append(_("Both a solar and a lunar birthday: both are kept; birthday care follows "
                       "the lunar one (%(lunar)s).", lunar=lunar.label))
    elif said.solar:
        data.birthday_kind = "solar"
    elif lunar:
        data.birthday_kind = "lunar"
    data.birthday = said.solar
    if lunar:
        data.lunar_month, data.lunar_day, data.lunar_leap = lunar.month, lunar.day, lunar.leap
    data.birth_year, data.birth_year_estimated = year, estimated and not said.solar
    if data.birth_year_estimated:
        notes.append(_("Year of birth estimated from the age (%(age)s): about %(year)s.",
                       age=age, year=year))
    elif age is not None and year is not None and abs(today.year - year - age) > 1:
        notes.append(_("The age (%(age)s) does not match the year of birth (%(year)s): the "
                       "year is kept.", age=age, year=year))


#: Rows checked between two look-ups of their mobiles in the archive (and, confirming, two
#: writes of the new customers).
CHUNK = 1000


def check_rows(batch, *, actor, now=None, progress=None, writing=True):
    """Each row of the batch checked — create, duplicate (with whom), or invalid (why) — in
    one pass over the file, never held whole: lists of RowResult, CHUNK rows at a time, a
    chunk's new mobiles looked up in the archive at once (a background dry run keeps only the
    rows its page shows). `progress(rows done, invalid so far)` after each row. Writes
    nothing. `writing=False` (a dry run): the rows' values to write are neither made whole
    (no pinyin of the name) nor kept."""
    if not batch.mapping:
        raise InvalidInput(_("Map the columns first."))
    today = local_day(now or utcnow())
    lookups = _Lookups(actor)
    mapping = list(batch.mapping.items())
    _headers, rows = _read(batch.content)
    chunk, phones, done, invalid = [], {}, 0, 0
    for row in rows:
        done += 1
        values = {key: row[index] if index < len(row) else None for key, index in mapping}
        result = _check_row(done + 1, values, batch.mapping, lookups, actor, today, phones,
                            writing)
        invalid += result.status == "invalid"
        chunk.append(result)
        if progress is not None:
            progress(done, invalid)
        if len(chunk) == CHUNK:
            _find_existing(chunk, actor)
            yield chunk
            chunk = []
    if chunk:
        _find_existing(chunk, actor)
        yield chunk


def _check_row(number, values, mapping, lookups, actor, today, phones, writing=True):
    """One row's RowResult; `phones` holds the file's mobiles so far (a second row with one is
    a duplicate of the first)."""
    result = RowResult(number=number, status="create",
                       name=p.cell_text(values.get("name"))[:40],
                       phone=p.cell_text(values.get("phone"))[:40])
    try:
        for key, value in values.items():
            if type(value) is Formula:
                raise InvalidInput(_(
                    "Column %(column)s (%(field)s) holds a formula (%(formula)s): formulas "
                    "are not calculated on import. In Excel or WPS copy the column and "
                    "paste it back as values, then upload the file again.",
                    column=get_column_letter(mapping[key] + 1),
                    field=FIELDS_BY_KEY[key].label, formula=value.text[:40]))
        data, owner, notes = _row_data(values, lookups, actor, today)
        result.notes = notes or ()  # most rows: none (one empty tuple for them all)
        result.name = data.name
        # The same rules as the form.
        cleaned = c.clean_customer_data(data, today=today, search_keys=writing)
        result.data, result.owner, result.phone = data, owner, cleaned["phone"]
        result.values = cleaned if writing else None
        if cleaned["phone"] in phones:
            result.status = "duplicate"
            result.message = _("Same mobile as row %(n)s of this file.",
                               n=phones[cleaned["phone"]])
        else:
            phones[cleaned["phone"]] = result.number
    except InvalidInput as exc:
        result.status, result.message = "invalid", str(exc.message)
    return result


def _find_existing(results, actor):
    """Rows whose new mobile is already a customer's: duplicates, with whom when the actor may
    see them."""
    existing = {}
    candidates = [r.phone for r in results if r.status == "create"]
    for start in range(0, len(candidates), 500):
        chunk = candidates[start:start + 500]
        for phone, cid, name in db.session.execute(
                select(c.Customer.phone, c.Customer.id, c.Customer.name)
                .where(c.Customer.phone.in_(chunk))):
            existing[phone] = (cid, name)
    if not existing:
        return
    visible = set(db.session.scalars(c.visible_customers(actor).with_only_columns(
        c.Customer.id).where(c.Customer.id.in_([cid for cid, _name in existing.values()]))))
    for result in results:
        if result.status == "create" and result.phone in existing:
            cid, name = existing[result.phone]
            result.status = "duplicate"
            if cid in visible:
                result.existing_id = cid
                result.message = _("Already a customer: %(name)s (No. %(id)s).", name=name,
                                   id=cid)
            else:  # not theirs to see: no name
                result.message = _("Already a customer of another marketer (No. %(id)s).",
                                   id=cid)


def dry_run(batch, *, actor, now=None, progress=None):
    """What confirming would do, row by row: create, duplicate (with whom), or invalid (why).
    Writes nothing. `progress(rows done, invalid so far)` is called after each row when given
    (a background run: models.background.Progress)."""
    results = []
    for chunk in check_rows(batch, actor=actor, now=now, progress=progress, writing=False):
        results += chunk
    return results


def summarise(results):
    """How many rows of each status, and how many have notes ("noted")."""
    counts = {"create": 0, "duplicate": 0, "invalid": 0, "noted": 0}
    for result in results:
        counts[result.status] += 1
        counts["noted"] += bool(result.notes)
    return counts


def confirm(batch, *, actor, now=None, progress=None):
    """Create every new customer of the batch in this one transaction, or none: refused while
    any row is invalid; any failure on the way undoes the whole import (the caller rolls back).
    Duplicates are left alone. Returns the counts, and the new customers' ids ("ids")."""
    now = now or utcnow()
    # Locked: two clicks on "import" must not import twice.
    db.session.execute(select(ImportBatch.id).where(ImportBatch.id == batch.id)
                       .with_for_update())
    db.session.refresh(batch)
    if batch.status != "uploaded":
        raise Conflict(_("This import has already been confirmed."))
    counts = {"create": 0, "duplicate": 0, "invalid": 0, "noted": 0}
    ids = []
    # Checked as the dry run checks, and written in bulk a chunk at a time as the rows are
    # checked (the same rules as create_customer, the mobiles against the archive and the
    # file), in a savepoint: an invalid row anywhere undoes the chunks written before it.
    with db.session.begin_nested():
        for chunk in check_rows(batch, actor=actor, now=now, progress=progress):
            for result in chunk:
                counts[result.status] += 1
                counts["noted"] += bool(result.notes)
            new = [(result.values, result.data.tag_ids, result.owner) for result in chunk
                   if result.status == "create"]
            if counts["invalid"] or not new:
                continue  # an invalid row: refused below, once every row is counted
            try:
                ids += c.create_customers(new, actor=actor, now=now)
            except InvalidInput as exc:
                raise InvalidInput(_("%(message)s Nothing was imported.",
                                     message=exc.message)) from None
        if counts["invalid"]:
            raise InvalidInput(_("%(n)s rows are invalid. Correct them in the spreadsheet and "
                                 "upload it again; nothing was imported.",
                                 n=counts["invalid"]))
    if progress is not None:  # written as they were checked: done with the last chunk
        progress(sum(counts[status] for status in ("create", "duplicate", "invalid")), 0,
                 stage="write")
    counts["ids"] = ids
    batch.status, batch.result = "done", {"created": counts["create"],
                                          "duplicates": counts["duplicate"]}
    batch.content = b""  # the file is not kept once imported
    audit(actor, "customer.import", batch, summary=_(
        "%(file)s: %(created)s created, %(duplicates)s duplicates skipped",
        file=batch.filename, created=counts["create"], duplicates=counts["duplicate"]), now=now)
    db.session.flush()
    return counts


# --- Rows for workbooks (reports/xlsx.py writes them) ------------------------------------------

def template_sheet():
    """(title, headers, rows) of the import template: the headers the importer maps by itself,
    and one example row."""
    headers = [FIELDS_BY_KEY[key].aliases[0] for key in TEMPLATE_EXAMPLE]
    return _("Customers"), headers, [list(TEMPLATE_EXAMPLE.values())]


EXPORT_COLUMNS = [_l("No."), _l("Name"), _l("Gender"), _l("Mobile"), _l("District"),
                  _l("Address"), _l("Source channel"), _l("Grade"), _l("Tags"), _l("Birthday"),
                  _l("Owner"), _l("Department"), _l("Status"), _l("Last contact"),
                  _l("Registered")]
#: Customers read from the database at a time while exporting.
EXPORT_BATCH = 1000


def export_rows(query, *, actor, batch=EXPORT_BATCH):
    """The rows of the export of `query` (already scoped and filtered), phones masked where the
    actor may not see them in full: an iterator that reads the customers `batch` at a time, so
    a list of 200,000 is never in memory. Refused (at once) for a role that may not export;
    the caller audits what was written with audit_export()."""
    if not c.may_export(actor):
        raise PermissionDenied(_("Exporting customers is not allowed for your role."))
    return _export_rows(query, actor, batch)


def _export_rows(query, actor, batch):
    full = {}  # (owner, department) -> may the actor see the phone in full
    customers = db.session.scalars(query.options(selectinload(c.Customer.tags))
                                   .execution_options(yield_per=batch))
    for x in customers:
        key = (x.owner_id, x.department_id)
        if key not in full:
            full[key] = can_see_full_phone(actor, owner_id=x.owner_id,
                                           department_id=x.department_id)
        yield [x.id, x.name, str(c.GENDERS.get(x.gender, "")),
               x.phone_national if full[key] else masked_phone(x.phone), x.district,
               x.address, x.channel.name if x.channel else "", x.grade,
               "、".join(t.name for t in x.tags), x.birthday_text,
               x.owner.display_name if x.owner else "",
               x.department.path if x.department else "", str(c.STATUSES[x.status]),
               local_dt(x.last_contact_at), local_dt(x.created_at)]


def audit_export(actor, count, *, now=None):
    """The audit entry of an export of `count` customers."""
    audit(actor, "customer.export", summary=_("%(n)s customers exported", n=count), now=now)


register_targets({"import_batches": _l("Import")})


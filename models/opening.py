"""Opening balances (期初): what a company moving in brings from its old spreadsheets, imported
as ledger entries of their own kind — upload an .xlsx → map its columns (the mapping of the
last file of the same kind with the same headers is offered again) → a dry run row by row with
each error in Chinese → confirm.

Two ways to confirm: all or nothing (one bad row: nothing is written), or the good rows only
(the bad ones are kept with their errors, to download as an .xlsx, fix and import again).
Every row imported is recorded under a key per kind (opening_rows: unique), so importing the
same file again writes nothing new. A batch can be rolled back as a whole while nothing has
happened to its rows since (each kind says what "happened" means), by entries that reverse
its own — never by deleting them. Every confirmation and rollback is audited with the batch.

Kinds (KINDS):
- points (期初积分): customer (mobile or customer number), balance, earned on (for expiry: the
  points expire as points earned that day do, models.points.default_expiry). An opening entry
  (kind "opening") on the points ledger; rolled back by a reversal while the customer's points
  have not moved since.
- arrears (期初欠款): customer, the old order's number and date, the amount still owed, the due
  date, the marketer (sign-in name or name; else the customer's owner). An order of status
  "opening" (numbered QC…) with no lines and its balance due: paid, reminded and aged like any
  other debt, counted in the arrears and what the customer owes from the import on — never in
  sales, deals or the cost of goods. Money collected on it counts as collected (earning no
  points: the old system gave those). Rolled back by cancelling it while nothing was paid.
- history (历史购买): customer, date, product (SKU or name; a product not in the catalogue is
  kept by its name), quantity, amount, marketer. Past purchases (past_purchases), not sales of
  any period: they feed the grades, the repurchase reminders and the customer's timeline.
  Rolled back by marking the batch's rows rolled back (nothing is built on them).
- stock (期初库存): product (SKU or name), warehouse (code or name), batch, expiry date,
  quantity, unit cost. A stock move of reason "opening" into the warehouse's free stock, the
  batch made with its expiry and cost; rolled back by reversing the move while nothing else has
  moved in that batch since.
- custody (期初寄存): customer, product (SKU or name), warehouse (code or name; may be left out
  when there is one), quantity, whether paid, held since, and — for a warehouse that keeps held
  goods on its custody shelf — batch, expiry date and unit cost. A holding of its own
  (custody.OpeningHolding): the goods received onto the warehouse's custody shelf by a stock
  move of reason "opening" (into the batch named; else one batch "期初寄存" per product, or one
  per expiry date), credited to the customer on the custody ledger. In a pooled warehouse
  nothing moves: the holding is a promise on the stock, as a pooled deposit is (the goods are
  counted in that warehouse's opening stock). Collected at the pickup screen like any held
  goods: a paid holding freely, an unpaid one only by a manager's early release with a reason.
  Rolled back by reversing the deposit while none of it has been picked up.
- products (商品): SKU, name, unit, specification, category, kind (销售品/赠品/积分兑换品/备品,
  several allowed), sale price, cost, floor price, points price, shelf life, days one unit lasts.
  Made as the product form makes them (inventory.create_product: the same checks); a file's
  products come before its opening stock. Rolled back by removing the products nothing was done
  with since (no stock moved, sold, given or packaged).
- users (员工账号): name, sign-in name, department (its name, or a path 总部/销售一部), roles
  (in Chinese or as codes, several separated by 、 , / or spaces), mobile, first password. Each
  account must change its password at the first sign-in. The first passwords are not kept:
  the file is dropped once imported, and a bad row to fix comes back without its password.
  Rolled back by removing the accounts that never signed in.

A workflow over the customers and the points ledger, one transaction each; the caller commits.
"""
import re
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import islice

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import (JSON, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String,
                        UniqueConstraint, bindparam, cast, func, or_, select)
from sqlalchemy.orm import Mapped, lazyload, load_only, mapped_column

from extensions import db
from models import accounts, custody, customers as c, inventory as inv, orders, points
from models.audit import audit, register_actions, register_targets
from models.base import (Conflict, InvalidInput, NotFound, PermissionDenied, UTCDateTime,
                         new_token, utcnow)
from formatting import fen
from models.clock import at_local, document_number, local_day
from models.customers.parsing import parse_count, parse_date, parse_fen
from models.customers.sheets import Formula, read_sheet
from models.timeline import TimelineItem, register_provider

#: Who imports opening balances and rolls them back.
OPENING_ROLES = ("admin", "manager", "finance")
MAX_ROWS = 200_000
#: Rows checked against one Context (their customers read at once), and written together by a
#: confirmation.
CHUNK = 1000
MODES = {"all": _l("All or nothing"), "good": _l("Import the good rows, download the bad ones")}
STATUSES = {"uploaded": _l("Waiting for confirmation"), "done": _l("Imported"),
            "rolled_back": _l("Rolled back")}


class OpeningBatch(db.Model):
    """An uploaded file of opening balances of one kind, and what became of it."""
    __tablename__ = "opening_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: In the URL instead of the id: unguessable.
    token: Mapped[str] = mapped_column(String(36), unique=True, default=new_token)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    #: The file (kept in the database: any worker on any host can continue).
    content: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[list] = mapped_column(JSON)
    row_count: Mapped[int] = mapped_column(Integer)
    #: {field key: column index}
    mapping: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="uploaded")
    mode: Mapped[str] = mapped_column(String(6), default="all")
    #: After confirmation: {"imported": n, "repeated": n, "invalid": n,
    #: "bad": [[row number, [cell values], message], ...]}
    result: Mapped[dict | None] = mapped_column(JSON)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rolled_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rolled_back_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PastPurchase(db.Model):
    """A purchase made before the company moved in (历史购买): what the old system knew. Never
    a sale of any period; read by the grades, the repurchase reminders and the timeline."""
    __tablename__ = "past_purchases"
    __table_args__ = (Index("ix_past_purchases_customer_bought", "customer_id", "bought_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("opening_batches.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    bought_on: Mapped[date] = mapped_column(Date)
    #: The product in the catalogue, if it is one; its name as the old sheet gave it, always.
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    product_name: Mapped[str] = mapped_column(String(80))
    quantity: Mapped[int] = mapped_column(Integer)
    #: Fen.
    amount: Mapped[int] = mapped_column(Integer)
    marketer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Set when the import was rolled back: the row counts nowhere from then on.
    rolled_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def past_purchases_since(since_day, customer_id=None):
    """A select of the purchases made before the move-in on or after `since_day` that count
    (not rolled back), of one customer or all."""
    query = select(PastPurchase).where(PastPurchase.bought_on >= since_day,
                                       PastPurchase.rolled_back_at.is_(None))
    if customer_id is not None:
        query = query.where(PastPurchase.customer_id == customer_id)
    return query


def past_purchase_rows():
    """A select of (customer_id, value, at) of the purchases made before the move-in that
    count, `at` the midnight (UTC) of the day bought: what RFM adds to a customer's orders."""
    at = func.datetime(PastPurchase.bought_on) \
        if db.session.get_bind().dialect.name == "sqlite" \
        else cast(PastPurchase.bought_on, DateTime)
    return select(PastPurchase.customer_id, PastPurchase.amount, at).where(
        PastPurchase.rolled_back_at.is_(None))


@register_provider
def _past_purchase_items(customer, limit):
    return [TimelineItem(
        at=at_local(p.bought_on, time(12)),
        kind="past_purchase",
        title=_("Bought %(product)s × %(n)s for %(amount)s (old system)", product=p.product_name,
                n=p.quantity, amount=fen(p.amount)), detail="", actor="", url=None)
        for p in db.session.scalars(select(PastPurchase).where(
            PastPurchase.customer_id == customer.id, PastPurchase.rolled_back_at.is_(None))
            .order_by(PastPurchase.bought_on.desc()).limit(limit))]


class OpeningRow(db.Model):
    """One row imported: its key within its kind (a row imported once is never imported
    again), and the ledger entry it wrote."""
    __tablename__ = "opening_rows"
    __table_args__ = (UniqueConstraint("kind", "row_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("opening_batches.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    row_key: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    #: The entry written, e.g. ("points_entries", 12).
    target_type: Mapped[str] = mapped_column(String(30))
    target_id: Mapped[int] = mapped_column(Integer)


register_targets({"opening_batches": _l("Opening balances import")})
register_actions({"opening.import": _l("Imported opening balances"),
                  "opening.rollback": _l("Rolled back an import of opening balances")})


# --- Kinds -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    key: str
    label: object
    required: bool = False
    #: Header texts that map to this field without asking.
    aliases: tuple = ()
    #: Never shown or kept (a password): blank in the dry run and in the bad rows.
    secret: bool = False


@dataclass
class Kind:
    code: str
    label: object
    fields: list
    example: dict
    #: parse(values, context) -> plan (a dict); raises InvalidInput for a bad cell.
    parse: object
    #: key(plan) -> the row key within the kind.
    key: object
    #: apply(plan, batch, actor, now, state) -> (customer id, the entry written: an ORM row
    #: whose id the confirmation reads after its next flush)
    apply: object
    #: undo(row, actor, now): reverse what the row wrote; Conflict if something happened since.
    undo: object
    #: What rows are checked against (read once per chunk of CHUNK rows): Context, or a
    #: kind's own, made with the chunk's rows.
    context: object = None
    #: prepare(plans, batch) -> state given to every apply of a chunk's plans (e.g. their
    #: accounts locked at once).
    prepare: object = None
    #: apply_many(plans, batch, actor, now, state) -> [(customer id, table, row id)] in the
    #: plans' order: what apply writes for each, written at once (a kind of many rows: the
    #: confirmation uses it when given, a chunk of plans at a time).
    apply_many: object = None


KINDS = {}

CUSTOMER_FIELD = Field("customer", _l("Customer (mobile or customer number)"), True,
                       ("手机", "手机号", "手机号码", "电话", "顾客编号", "客户编号", "顾客",
                        "客户", "customer", "mobile", "phone"))


def _text(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _whole(value, label):
    """A whole number as old sheets write it: 1500, "1,500", "3盒" (a unit after it)."""
    text = _text(value).replace(",", "").replace("，", "")
    negative = text.startswith("-")
    try:
        number = parse_count(text[1:] if negative else text)
    except InvalidInput:
        number = None
    if number is None or number >= 10 ** 9:
        raise InvalidInput(_("%(field)s must be a whole number, not %(value)s.", field=label,
                             value=_text(value) or "—"))
    return -number if negative else number


def _day(value, label, default):
    """A date as old sheets write it (2025.3.8, 25-3-8, 2025年3月8日, an Excel day number…)."""
    try:
        day = parse_date(value, century=2000)
    except InvalidInput as exc:
        raise InvalidInput(_("%(field)s: %(problem)s", field=label, problem=exc.message)) \
            from None
    return default if day is None else day


class Context:
    """What rows are checked against, read once per chunk of a file's rows (CHUNK, made by the
    dry run and the confirmation: a file's 50,000 customers are never held at once): the
    customers named in the rows, by mobile and by number. Opening balances are the company's,
    entered by those who see every customer's money (OPENING_ROLES: admin, manager, finance), so
    the whole archive is searched — a lookup of the names in the file, never a list."""

    def __init__(self, actor, rows, mapping, today):
        self.actor, self.today = actor, today
        column = mapping.get("customer")
        named = {_text(row[column]) for row in rows if column is not None and column < len(row)}
        #: Each mobile as typed → its E.164 form (or None), worked out once per chunk.
        self.phones = {text: _phone(text) for text in named if not text.isdecimal()
                       or len(text) >= 11}
        phones = set(self.phones.values()) - {None}
        numbers = {int(text) for text in named if text.isdecimal() and len(text) < 11}
        # The columns the kinds read of a customer (the rest of its fifty, and its owner, when
        # asked for: an owner once, then from the session), not joined to each of the chunk's
        # customers.
        visible = select(c.Customer).options(
            load_only(c.Customer.id, c.Customer.phone, c.Customer.status, c.Customer.name,
                      c.Customer.owner_id, c.Customer.department_id), lazyload("*"))
        self.by_phone, self.by_id = {}, {}
        for chunk in _chunks(sorted(phones)):
            for customer in db.session.scalars(visible.where(c.Customer.phone.in_(chunk))):
                self.by_phone[customer.phone] = customer
        for chunk in _chunks(sorted(numbers)):
            for customer in db.session.scalars(visible.where(c.Customer.id.in_(chunk))):
                self.by_id[customer.id] = customer

    def customer(self, value):
        text = _text(value)
        if not text:
            raise InvalidInput(_("Say which customer (mobile or customer number)."))
        if text.isdecimal() and len(text) < 11:
            found = self.by_id.get(int(text))
        else:
            found = self.by_phone.get(self.phones[text] if text in self.phones
                                      else _phone(text))
        if found is None or found.status == "merged":
            raise InvalidInput(_("No customer with mobile or number %(value)s: import or "
                                 "register the customer first.", value=text))
        return found


def _phone(text):
    """The mobile in the customers' form (E.164), or None when it is not one."""
    try:
        return c.normalise_phone(text)
    except InvalidInput:
        return None


def _chunks(items, size=500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# Points --------------------------------------------------------------------------------------

def _points_parse(values, context):
    customer = context.customer(values.get("customer"))
    balance = _whole(values.get("balance"), _l("Points balance"))
    if balance <= 0:
        raise InvalidInput(_("The points balance must be above zero (a customer without "
                             "points needs no row)."))
    if balance > points.MAX_POINTS:
        raise InvalidInput(_("The points balance is too large."))
    earned_on = _day(values.get("earned_on"), _l("Earned on"), context.today)
    if earned_on > context.today:
        raise InvalidInput(_("Earned on %(day)s is in the future.", day=earned_on.isoformat()))
    if points.default_expiry(earned_on) < context.today:
        raise InvalidInput(_("Points earned on %(day)s have already expired.",
                             day=earned_on.isoformat()))
    return {"customer": customer, "points": balance, "earned_on": earned_on}


def _points_key(plan):
    return f"{plan['customer'].id}:{plan['earned_on'].isoformat()}:{plan['points']}"


def _points_prepare(plans, batch):
    """The customers' points accounts, locked, made at zero where missing (all at once), and
    the entries' reason (translated once per chunk)."""
    return (points.lock_accounts({plan["customer"].id for plan in plans}),
            _("Opening balance from %(file)s", file=batch.filename)[:200])


def _points_apply(plan, batch, actor, now, state):
    accounts_by_customer, reason = state
    account = accounts_by_customer[plan["customer"].id]
    entry = points.write_entry(account, kind="opening", points=plan["points"], actor=actor,
                               now=now, expires_on=points.default_expiry(plan["earned_on"]),
                               reason=reason)
    return plan["customer"].id, entry


def _points_apply_many(plans, batch, actor, now, state):
    """The entries of many balances in one INSERT, each what apply writes (an "opening" entry,
    its account's cached balance moved with it: the ORM's unit of work, an INSERT a row, was
    most of an import of 50,000). The ids come back in whatever order the database returns
    them: matched to the rows by customer, points and expiry — rows alike in those are alike
    in every column, and take their ids in the rows' order, as one by one."""
    accounts_by_customer, reason = state
    table = points.PointsEntry.__table__
    rows = []
    for plan in plans:
        account = accounts_by_customer[plan["customer"].id]
        account.balance += plan["points"]  # above zero (parse): never below it after
        rows.append({"customer_id": account.customer_id, "kind": "opening",
                     "points": plan["points"],
                     "expires_on": points.default_expiry(plan["earned_on"]),
                     "actor_id": actor.id if actor else None, "at": now, "reason": reason})
    made = {}
    for entry_id, *alike in db.session.execute(
            table.insert().returning(table.c.id, table.c.customer_id, table.c.points,
                                     table.c.expires_on), rows):
        made.setdefault(tuple(alike), []).append(entry_id)
    for ids in made.values():
        ids.sort(reverse=True)  # popped from the end: the smallest first
    return [(row["customer_id"], table.name,
             made[(row["customer_id"], row["points"], row["expires_on"])].pop())
            for row in rows]


def _points_undo(row, actor, now):
    account = points.lock_account(row.customer_id)
    # The batch's own entries (a customer on two rows of the file: two lots) and their
    # reversals by this rollback are not a change since the import.
    own = select(OpeningRow.target_id).where(OpeningRow.batch_id == row.batch_id,
                                             OpeningRow.customer_id == row.customer_id)
    later = db.session.scalar(select(func.count()).select_from(points.PointsEntry).where(
        points.PointsEntry.customer_id == row.customer_id,
        points.PointsEntry.id > row.target_id, points.PointsEntry.id.not_in(own),
        or_(points.PointsEntry.reverses_id.is_(None),
            points.PointsEntry.reverses_id.not_in(own))))
    if later:
        raise Conflict(_("Row %(n)s: the customer's points have moved since the import.",
                         n=row.number))
    entry = db.session.get(points.PointsEntry, row.target_id)
    points.write_entry(account, kind="reversed", points=-entry.points, actor=actor, now=now,
                       reverses_id=entry.id, lot_id=entry.id,
                       reason=_("Opening balance import rolled back")[:200])


KINDS["points"] = Kind(
    "points", _l("Points balances"),
    [CUSTOMER_FIELD,
     Field("balance", _l("Points balance"), True, ("积分", "积分余额", "现有积分", "balance",
                                                   "points")),
     Field("earned_on", _l("Earned on (for expiry)"), False, ("获得日期", "积分日期",
                                                              "earned on"))],
    {"customer": "13800138000", "balance": 1200, "earned_on": "2025-10-01"},
    _points_parse, _points_key, _points_apply, _points_undo, prepare=_points_prepare,
    apply_many=_points_apply_many)


# Arrears -------------------------------------------------------------------------------------

class ArrearsContext(Context):
    """The customers, and the marketers by sign-in name and by name."""

    def __init__(self, actor, rows, mapping, today):
        super().__init__(actor, rows, mapping, today)
        self.marketers = {}
        for user in db.session.scalars(select(accounts.User).where(
                accounts.User.is_active.is_(True))):
            if user.has_role("marketer", "dept_head", "manager"):
                self.marketers.setdefault(user.username.lower(), user)
                self.marketers.setdefault(user.display_name, user)


def _arrears_parse(values, context):
    customer = context.customer(values.get("customer"))
    amount = _money(values.get("amount"), _l("Amount owed"))
    if amount <= 0:
        raise InvalidInput(_("The amount owed must be above zero."))
    taken_on = _day(values.get("taken_on"), _l("Order date"), None)
    if taken_on is not None and taken_on > context.today:
        raise InvalidInput(_("The order date %(day)s is in the future.",
                             day=taken_on.isoformat()))
    due = _day(values.get("due_date"), _l("Due date"), None)
    if who := _text(values.get("marketer")):
        marketer = context.marketers.get(who.lower()) or context.marketers.get(who)
        if marketer is None:
            raise InvalidInput(_("No marketer %(value)s (sign-in name or name).", value=who))
    else:
        marketer = customer.owner
        if marketer is None:
            raise InvalidInput(_("%(name)s has no marketer (a customer of the pool): say whose "
                                 "debt it is.", name=customer.name))
    return {"customer": customer, "amount": amount, "taken_on": taken_on, "due": due,
            "number": _text(values.get("number"))[:40], "marketer": marketer}


def _arrears_key(plan):
    return f"{plan['customer'].id}:{plan['number'] or plan['taken_on']}:{plan['amount']}"


def _arrears_texts():
    """The words of an opening order's note, translated (once for a chunk of orders)."""
    return (_("old order %(number)s"), _("of %(day)s"),
            _("Owed from the old system (%(old)s), imported from %(file)s."))


def _arrears_order(plan, batch, actor, now, texts):
    """The columns of the order of a debt brought in (its number, made of its id, apart)."""
    customer, marketer = plan["customer"], plan["marketer"]
    old_order, of_day, owed = texts
    old = "、".join(filter(None, [
        old_order % {"number": plan["number"]} if plan["number"] else "",
        of_day % {"day": plan["taken_on"].isoformat()} if plan["taken_on"] else ""]))
    return dict(customer_id=customer.id, marketer_id=marketer.id,
                department_id=marketer.department_id, channel="store",
                status="opening", total=plan["amount"], list_total=plan["amount"],
                paid=0, returned_value=0, balance_due=plan["amount"],
                due_date=plan["due"],
                note=(owed % {"old": old or "—", "file": batch.filename})[:1000],
                created_by_id=actor.id, created_at=now)


def _arrears_apply(plan, batch, actor, now, _state):
    order = orders.Order(**_arrears_order(plan, batch, actor, now, _arrears_texts()))
    db.session.add(order)
    db.session.flush()
    order.number = document_number("QC", now, order.id)
    return plan["customer"].id, order


def _arrears_apply_many(plans, batch, actor, now, _state):
    """The orders of many debts in two statements (each order one INSERT and one UPDATE, with
    the ORM's unit of work, was most of an import of 50,000). Each is inserted under a number
    of its own for a moment (QC-<batch>-<n>, never a real one: those have digits after QC), by
    which its id comes back — in whatever order the database returns them — and then gets its
    real number, made of that id."""
    table = orders.Order.__table__
    texts = _arrears_texts()
    rows = [{**_arrears_order(plan, batch, actor, now, texts), "number": f"QC-{batch.id}-{n}"}
            for n, plan in enumerate(plans)]
    ids = dict(db.session.execute(table.insert().returning(table.c.number, table.c.id),
                                  rows).all())
    made = [ids[row["number"]] for row in rows]
    db.session.execute(table.update().where(table.c.id == bindparam("order_id"))
                       .values(number=bindparam("real_number")),
                       [{"order_id": order_id,
                         "real_number": document_number("QC", now, order_id)}
                        for order_id in made])
    return [(plan["customer"].id, table.name, order_id) for plan, order_id in zip(plans, made)]


def _arrears_undo(row, actor, now):
    order = orders.lock_order(db.session.get(orders.Order, row.target_id))
    if order.paid or db.session.scalar(select(func.count()).select_from(orders.Payment).where(
            orders.Payment.order_id == order.id)):
        raise Conflict(_("Row %(n)s: money has been received on %(number)s since the import.",
                         n=row.number, number=order.number))
    order.status, order.balance_due = "cancelled", 0
    order.cancelled_by_id, order.cancelled_at = actor.id, now
    order.cancel_reason = _("Opening balance import rolled back")[:200]


KINDS["arrears"] = Kind(
    "arrears", _l("Arrears (期初欠款)"),
    [CUSTOMER_FIELD,
     Field("number", _l("Old order number"), False, ("原单号", "单号", "订单号", "number")),
     Field("taken_on", _l("Order date"), False, ("日期", "订单日期", "成交日期", "下单日期")),
     Field("amount", _l("Amount owed (yuan)"), True, ("欠款", "欠款金额", "尚欠", "金额",
                                                      "amount")),
     Field("due_date", _l("Due date"), False, ("应付日期", "到期日", "约定还款日", "due date")),
     Field("marketer", _l("Marketer (sign-in name or name)"), False,
           ("业务员", "归属业务员", "经手人", "marketer"))],
    {"customer": "13800138000", "number": "2024-0815", "taken_on": "2024-08-15",
     "amount": "1580.00", "due_date": "2025-02-15", "marketer": ""},
    _arrears_parse, _arrears_key, _arrears_apply, _arrears_undo, ArrearsContext,
    apply_many=_arrears_apply_many)


# Purchase history -----------------------------------------------------------------------------

class HistoryContext(ArrearsContext):
    """The customers and marketers, and the products by SKU and name."""

    def __init__(self, actor, rows, mapping, today):
        super().__init__(actor, rows, mapping, today)
        self.products = {}
        for product in db.session.scalars(select(inv.Product)):
            self.products.setdefault(product.sku.lower(), product)
            self.products.setdefault(product.name, product)


def _history_parse(values, context):
    customer = context.customer(values.get("customer"))
    bought_on = _day(values.get("bought_on"), _("Date bought"), None)
    if bought_on is None:
        raise InvalidInput(_("Say when it was bought."))
    if bought_on > context.today:
        raise InvalidInput(_("The date %(day)s is in the future.", day=bought_on.isoformat()))
    name = _text(values.get("product"))
    if not name:
        raise InvalidInput(_("Say what was bought."))
    product = context.products.get(name.lower()) or context.products.get(name)
    quantity = 1 if values.get("quantity") in (None, "") else \
        _whole(values.get("quantity"), _("Quantity"))
    if not 0 < quantity <= 100_000:
        raise InvalidInput(_("The quantity must be a whole number above zero."))
    amount = _money(values.get("amount"), _("Amount")) \
        if values.get("amount") not in (None, "") else 0
    marketer = None
    if who := _text(values.get("marketer")):
        marketer = context.marketers.get(who.lower()) or context.marketers.get(who)
        if marketer is None:
            raise InvalidInput(_("No marketer %(value)s (sign-in name or name).", value=who))
    return {"customer": customer, "bought_on": bought_on, "product": product,
            "product_name": (product.name if product else name)[:80], "quantity": quantity,
            "amount": amount, "marketer": marketer}


def _history_key(plan):
    return (f"{plan['customer'].id}:{plan['bought_on'].isoformat()}:{plan['product_name']}:"
            f"{plan['quantity']}:{plan['amount']}")[:200]


def _history_apply(plan, batch, actor, now, _state):
    purchase = PastPurchase(batch_id=batch.id, customer_id=plan["customer"].id,
                            bought_on=plan["bought_on"],
                            product_id=plan["product"].id if plan["product"] else None,
                            product_name=plan["product_name"], quantity=plan["quantity"],
                            amount=plan["amount"],
                            marketer_id=plan["marketer"].id if plan["marketer"] else None)
    db.session.add(purchase)
    return plan["customer"].id, purchase


def _history_undo(row, actor, now):
    purchase = db.session.get(PastPurchase, row.target_id)
    purchase.rolled_back_at = now


KINDS["history"] = Kind(
    "history", _l("Purchase history"),
    [CUSTOMER_FIELD,
     Field("bought_on", _l("Date bought"), True, ("日期", "购买日期", "成交日期", "date")),
     Field("product", _l("Product (SKU or name)"), True, ("商品", "产品", "品名", "商品名称",
                                                          "product")),
     Field("quantity", _l("Quantity"), False, ("数量", "quantity")),
     Field("amount", _l("Amount (yuan)"), False, ("金额", "成交金额", "amount")),
     Field("marketer", _l("Marketer (sign-in name or name)"), False,
           ("业务员", "经手人", "marketer"))],
    {"customer": "13800138000", "bought_on": "2025-06-18", "product": "灵芝孢子粉",
     "quantity": 2, "amount": "396.00", "marketer": ""},
    _history_parse, _history_key, _history_apply, _history_undo, HistoryContext)


# Stock ---------------------------------------------------------------------------------------

class StockContext(Context):
    """Products by SKU and name, warehouses by code and name (read once per chunk)."""

    def __init__(self, actor, rows, mapping, today):
        self.actor, self.today = actor, today
        _read_catalogue(self)


def _read_catalogue(context):
    """The products in use by SKU and name, the warehouses by code and name, onto `context`."""
    context.products = {}
    for product in db.session.scalars(select(inv.Product).where(
            inv.Product.is_active.is_(True))):
        context.products.setdefault(product.sku.lower(), product)
        context.products.setdefault(product.name, product)
    context.warehouses = {}
    for warehouse in inv.warehouses():
        context.warehouses.setdefault(warehouse.code.lower(), warehouse)
        context.warehouses.setdefault(warehouse.name, warehouse)


def _money(value, label):
    """Fen from a cell in yuan (12.5, "¥1,200.50", "1200元", "1.2万")."""
    try:
        fen = parse_fen(value)
    except InvalidInput:
        raise InvalidInput(_("%(field)s must be an amount in yuan, not %(value)s.", field=label,
                             value=_text(value))) from None
    if fen is None:
        fen = 0
    if not 0 <= fen <= 100_000_000:
        raise InvalidInput(_("%(field)s must be between ¥0 and ¥1,000,000.", field=label))
    return fen


def _product(values, context):
    name = _text(values.get("product"))
    product = context.products.get(name.lower()) or context.products.get(name)
    if product is None:
        raise InvalidInput(_("No product in use with SKU or name %(value)s: add it to the "
                             "products first.", value=name or "—"))
    return product


def _warehouse(values, context):
    where = _text(values.get("warehouse"))
    warehouse = context.warehouses.get(where.lower()) or context.warehouses.get(where)
    if warehouse is None:
        raise InvalidInput(_("No warehouse with code or name %(value)s.", value=where or "—"))
    return warehouse


def _stock_parse(values, context):
    product = _product(values, context)
    warehouse = _warehouse(values, context)
    quantity = _whole(values.get("quantity"), _("Quantity"))
    if not 0 < quantity <= 1_000_000:
        raise InvalidInput(_("The quantity must be a whole number above zero."))
    cost = values.get("unit_cost")
    return {"product": product, "warehouse": warehouse, "quantity": quantity,
            "batch": _text(values.get("batch"))[:40],
            "expiry": _day(values.get("expiry"), _("Expiry date"), None),
            "unit_cost": None if cost in (None, "") else _money(cost, _("Unit cost"))}


def _stock_key(plan):
    return f"{plan['product'].id}:{plan['warehouse'].id}:{plan['batch'].lower()}"


def _stock_apply(plan, batch, actor, now, _state):
    move = inv.receive(product=plan["product"], quantity=plan["quantity"],
                       warehouse=plan["warehouse"], actor=actor, batch_number=plan["batch"],
                       expiry_date=plan["expiry"], unit_cost=plan["unit_cost"],
                       document=("opening_batches", batch.id), reason="opening",
                       note=_("Opening stock from %(file)s", file=batch.filename)[:200], now=now)
    return None, move


def _stock_undo(row, actor, now):
    move = db.session.get(inv.StockMove, row.target_id)
    later = db.session.scalar(select(func.count()).select_from(inv.StockMove).where(
        inv.StockMove.batch_id == move.batch_id, inv.StockMove.id > move.id))
    if later:
        raise Conflict(_("Row %(n)s: goods of that batch have moved since the import.",
                         n=row.number))
    inv.reverse(move, actor=actor, note=_("Opening balance import rolled back"), now=now)


KINDS["stock"] = Kind(
    "stock", _l("Opening stock"),
    [Field("product", _l("Product (SKU or name)"), True, ("商品", "商品编码", "编码", "品名",
                                                          "商品名称", "sku", "product")),
     Field("warehouse", _l("Warehouse (code or name)"), True, ("仓库", "库房", "warehouse")),
     Field("batch", _l("Batch"), False, ("批次", "批号", "batch")),
     Field("expiry", _l("Expiry date"), False, ("有效期", "有效期至", "到期日", "expiry")),
     Field("quantity", _l("Quantity"), True, ("数量", "库存", "库存数量", "quantity")),
     Field("unit_cost", _l("Unit cost (yuan)"), False, ("单位成本", "成本", "进价",
                                                        "unit cost"))],
    {"product": "LZ-001", "warehouse": "总仓", "batch": "B20250601", "expiry": "2027-05-31",
     "quantity": 120, "unit_cost": 60},
    _stock_parse, _stock_key, _stock_apply, _stock_undo, StockContext)


# Custody held since before the move-in (期初寄存) --------------------------------------------

class CustodyContext(Context):
    """The customers, the products in use by SKU and name, the warehouses by code and name."""

    def __init__(self, actor, rows, mapping, today):
        super().__init__(actor, rows, mapping, today)
        _read_catalogue(self)
        #: The warehouse of a file without the column: the one warehouse there is, if one.
        active = {w.id: w for w in self.warehouses.values()}
        self.only_warehouse = next(iter(active.values())) if len(active) == 1 else None


#: How old sheets say whether goods held were paid for.
PAID_WORDS = {"是": True, "已付": True, "已付款": True, "已结清": True, "付清": True, "全款": True,
              "y": True, "yes": True, "true": True, "1": True, "√": True, "✓": True,
              "否": False, "未付": False, "未付款": False, "未结清": False, "欠款": False,
              "赊欠": False, "n": False, "no": False, "false": False, "0": False, "×": False}


def _custody_parse(values, context):
    customer = context.customer(values.get("customer"))
    product = _product(values, context)
    if _text(values.get("warehouse")) or context.only_warehouse is None:
        warehouse = _warehouse(values, context)
    else:
        warehouse = context.only_warehouse
    quantity = _whole(values.get("quantity"), _("Quantity"))
    if not 0 < quantity <= 1_000_000:
        raise InvalidInput(_("The quantity must be a whole number above zero."))
    said = _text(values.get("is_paid")).lower()
    if said not in PAID_WORDS:
        raise InvalidInput(_("Say whether the goods are paid for: 是 or 否, not %(value)s.",
                             value=_text(values.get("is_paid")) or "—"))
    held_since = _day(values.get("held_since"), _("Held since"), None)
    if held_since is not None and held_since > context.today:
        raise InvalidInput(_("Held since %(day)s is in the future.", day=held_since.isoformat()))
    cost = values.get("unit_cost")
    return {"customer": customer, "product": product, "warehouse": warehouse,
            "quantity": quantity, "is_paid": PAID_WORDS[said], "held_since": held_since,
            "batch": _text(values.get("batch"))[:40],
            "expiry": _day(values.get("expiry"), _("Expiry date"), None),
            "unit_cost": None if cost in (None, "") else _money(cost, _("Unit cost"))}


def _custody_key(plan):
    # Whether paid is left out: a corrected file saying otherwise imports nothing twice.
    return (f"{plan['customer'].id}:{plan['product'].id}:{plan['warehouse'].id}:"
            f"{plan['batch'].lower()}:{plan['held_since'] or ''}:{plan['quantity']}")[:200]


def _custody_prepare(plans, batch):
    """The entries' note (translated once per file)."""
    return _("Held since before the move-in, from %(file)s", file=batch.filename)[:200]


def _custody_apply(plan, batch, actor, now, note):
    holding = custody.deposit_opening(
        plan["customer"], plan["product"], plan["quantity"], warehouse=plan["warehouse"],
        is_paid=plan["is_paid"], held_since=plan["held_since"], batch_number=plan["batch"],
        expiry_date=plan["expiry"], unit_cost=plan["unit_cost"], actor=actor, note=note,
        now=now)
    return plan["customer"].id, holding


def _custody_undo(row, actor, now):
    holding = db.session.get(custody.OpeningHolding, row.target_id)
    try:
        custody.take_back_opening(holding, actor=actor, now=now,
                                  reason=_("Opening balance import rolled back")[:200])
    except Conflict:
        raise Conflict(_("Row %(n)s: %(name)s has been collected since the import.",
                         n=row.number, name=holding.product.name)) from None


KINDS["custody"] = Kind(
    "custody", _l("Goods held in custody (期初寄存)"),
    [CUSTOMER_FIELD,
     Field("product", _l("Product (SKU or name)"), True, ("商品", "商品编码", "编码", "品名",
                                                          "商品名称", "sku", "product")),
     Field("warehouse", _l("Warehouse (code or name)"), False, ("仓库", "库房", "寄存仓库",
                                                                "warehouse")),
     Field("quantity", _l("Quantity"), True, ("数量", "寄存数量", "未领数量", "quantity")),
     Field("is_paid", _l("Paid (是/否)"), True, ("是否已付", "是否付款", "已付款", "付款",
                                                 "paid")),
     Field("held_since", _l("Held since"), False, ("寄存日期", "寄存时间", "日期",
                                                   "held since")),
     Field("batch", _l("Batch"), False, ("批次", "批号", "batch")),
     Field("expiry", _l("Expiry date"), False, ("有效期", "有效期至", "到期日", "expiry")),
     Field("unit_cost", _l("Unit cost (yuan)"), False, ("单位成本", "成本", "进价",
                                                        "unit cost"))],
    {"customer": "13800138000", "product": "LZ-001", "warehouse": "总仓", "quantity": 6,
     "is_paid": "是", "held_since": "2025-09-20", "batch": "", "expiry": "2027-05-31",
     "unit_cost": ""},
    _custody_parse, _custody_key, _custody_apply, _custody_undo, CustodyContext,
    _custody_prepare)


# Products ------------------------------------------------------------------------------------

#: How old sheets name a product's kind → the product's flag.
PRODUCT_KIND_WORDS = {"销售": "for_sale", "销售品": "for_sale", "商品": "for_sale",
                      "在售": "for_sale", "赠品": "is_gift", "礼品": "is_gift",
                      "兑换": "redeemable", "积分兑换": "redeemable", "积分兑换品": "redeemable",
                      "备品": "is_spare", "物料": "is_spare"}


def _products_parse(values, context):
    sku = _text(values.get("sku"))
    words = [w for w in re.split(r"[、,，/／;；\s]+", _text(values.get("kinds"))) if w] or ["销售品"]
    unknown = [w for w in words if w not in PRODUCT_KIND_WORDS]
    if unknown:
        raise InvalidInput(_("Unknown kind of product: %(value)s (销售品、赠品、积分兑换品、备品).",
                             value="、".join(unknown)))
    data = {"sku": sku, "name": _text(values.get("name")), "unit": _text(values.get("unit")),
            "specification": _text(values.get("specification")),
            "category": _text(values.get("category")),
            **{PRODUCT_KIND_WORDS[w]: True for w in words}}
    for key, label in (("sale_price", _("Sale price")), ("standard_cost", _("Standard cost")),
                       ("floor_price", _("Floor price"))):
        if values.get(key) not in (None, ""):
            data[key] = _money(values.get(key), label)
    for key, label in (("points_price", _("Points price")),
                       ("shelf_life_days", _("Shelf life (days)")),
                       ("days_per_unit", _("Days one unit lasts"))):
        if values.get(key) not in (None, ""):
            data[key] = _whole(values.get(key), label)
    try:
        inv.clean_product(data)  # the product form's checks, nothing written
    except Conflict as exc:  # an SKU in use
        raise InvalidInput(exc.message) from None
    return {"data": data}


def _products_key(plan):
    return plan["data"]["sku"].lower()


def _products_apply(plan, batch, actor, now, _state):
    return None, inv.create_product(plan["data"], actor=actor, now=now)


def _products_undo(row, actor, now):
    product = db.session.get(inv.Product, row.target_id)
    if product is None:
        return
    try:
        inv.remove_unused_product(product, actor=actor, now=now)
    except Conflict:
        raise Conflict(_("Row %(n)s: %(name)s has been used since the import.", n=row.number,
                         name=product.name)) from None


KINDS["products"] = Kind(
    "products", _l("Products"),
    [Field("sku", _l("SKU"), True, ("编码", "商品编码", "货号", "sku")),
     Field("name", _l("Name"), True, ("名称", "商品名称", "品名", "name")),
     Field("unit", _l("Unit"), True, ("单位", "unit")),
     Field("specification", _l("Specification"), False, ("规格", "specification")),
     Field("category", _l("Category"), False, ("类别", "分类", "category")),
     Field("kinds", _l("Kind"), False, ("类型", "性质", "kind")),
     Field("sale_price", _l("Sale price (yuan)"), False, ("售价", "零售价", "价格", "price")),
     Field("standard_cost", _l("Standard cost (yuan)"), False, ("成本", "成本价", "进价",
                                                                "cost")),
     Field("floor_price", _l("Floor price (yuan)"), False, ("最低售价", "底价")),
     Field("points_price", _l("Points price"), False, ("兑换积分", "积分价")),
     Field("shelf_life_days", _l("Shelf life (days)"), False, ("保质期", "保质期（天）")),
     Field("days_per_unit", _l("Days one unit lasts"), False, ("可用天数", "服用天数"))],
    {"sku": "LZ-001", "name": "灵芝孢子粉", "unit": "盒", "specification": "60 粒 × 0.5 克",
     "category": "保健品", "kinds": "销售品", "sale_price": "198.00", "standard_cost": "60.00",
     "floor_price": "", "points_price": "", "shelf_life_days": 730, "days_per_unit": 30},
    _products_parse, _products_key, _products_apply, _products_undo)


# Users ---------------------------------------------------------------------------------------

class UsersContext(Context):
    """Departments by name and by path, the roles by code and by label (read once per
    chunk)."""

    def __init__(self, actor, rows, mapping, today):
        self.actor, self.today = actor, today
        departments = db.session.scalars(select(accounts.Department).where(
            accounts.Department.is_active.is_(True))).all()
        self.departments = {}
        for department in departments:
            self.departments.setdefault(department.path, department)
            self.departments.setdefault(department.path.replace(" / ", "/"), department)
        for department in departments:  # a bare name, when only one department has it
            same = [d for d in departments if d.name == department.name]
            if len(same) == 1:
                self.departments.setdefault(department.name, department)
        self.roles = {code: code for code in accounts.ROLES}
        self.roles.update({str(label): code for code, label in accounts.ROLES.items()})
        self.roles.update(ROLE_WORDS)


#: Role names old spreadsheets use.
ROLE_WORDS = {"管理员": "admin", "系统管理员": "admin", "总经理": "manager", "经理": "manager",
              "部门经理": "dept_head", "主管": "dept_head", "业务员": "marketer",
              "营销员": "marketer", "会务": "event_staff", "会务人员": "event_staff",
              "库管": "warehouse", "仓管": "warehouse", "仓库": "warehouse", "财务": "finance",
              "出纳": "finance", "会计": "finance"}


def _users_parse(values, context):
    username = _text(values.get("username")).lower()
    if not accounts.USERNAME_RE.match(username):
        raise InvalidInput(_("The sign-in name %(value)s must be 2–40 letters, digits, dots, "
                             "dashes or underscores.", value=username or "—"))
    name = _text(values.get("name"))
    if not name or len(name) > 40:
        raise InvalidInput(_("Enter the name shown to others (at most 40 characters)."))
    words = [w for w in re.split(r"[、,，/／;；\s]+", _text(values.get("roles"))) if w]
    unknown = [w for w in words if w not in context.roles]
    if unknown or not words:
        raise InvalidInput(_("Unknown role: %(role)s (roles: %(known)s).",
                             role="、".join(unknown) or "—",
                             known="、".join(str(label) for label in accounts.ROLES.values())))
    department = None
    if where := _text(values.get("department")):
        department = context.departments.get(where)
        if department is None:
            raise InvalidInput(_("No department %(value)s (write its name, or its path like "
                                 "总部/销售一部 when two have the name).", value=where))
    password = _text(values.get("password"))
    accounts.check_password_rules(password)
    phone = _text(values.get("phone"))
    if phone:
        phone = accounts.normalise_mobile(phone)
    if accounts.find_user_by_username(username) is not None:
        raise InvalidInput(_("The sign-in name %(name)s is already taken.", name=username))
    return {"username": username, "name": name, "roles": sorted({context.roles[w]
                                                                  for w in words}),
            "department": department, "password": password, "phone": phone}


def _users_key(plan):
    return plan["username"]


def _users_apply(plan, batch, actor, now, _state):
    user = accounts.create_user(username=plan["username"], display_name=plan["name"],
                                password=plan["password"], roles=plan["roles"],
                                department=plan["department"], phone=plan["phone"],
                                actor=actor, now=now, must_change_password=True)
    return None, user


def _users_undo(row, actor, now):
    user = db.session.get(accounts.User, row.target_id)
    if user is None:
        return
    if user.last_login_at is not None:
        raise Conflict(_("Row %(n)s: %(name)s has signed in since the import: deactivate the "
                         "account instead.", n=row.number, name=user.display_name))
    accounts.remove_unused_user(user, actor=actor, now=now)


KINDS["users"] = Kind(
    "users", _l("Staff accounts"),
    [Field("name", _l("Name"), True, ("姓名", "员工姓名", "name")),
     Field("username", _l("Sign-in name"), True, ("登录名", "用户名", "账号", "username")),
     Field("department", _l("Department"), False, ("部门", "所属部门", "department")),
     Field("roles", _l("Roles"), True, ("角色", "岗位", "职务", "roles")),
     Field("phone", _l("Mobile"), False, ("手机", "手机号", "电话", "phone")),
     Field("password", _l("First password"), True, ("初始密码", "密码", "password"),
           secret=True)],
    {"name": "王小明", "username": "wangxm", "department": "销售一部", "roles": "业务员",
     "phone": "13900001111", "password": "Start2026"},
    _users_parse, _users_key, _users_apply, _users_undo, UsersContext)


# --- Upload, mapping, dry run ------------------------------------------------------------------

def kind_or_404(code):
    if code not in KINDS:
        raise NotFound(_("No such kind of opening balance."))
    return KINDS[code]


def _require(actor):
    if not actor.has_role(*OPENING_ROLES):
        raise PermissionDenied(_("Only an administrator, a manager or finance imports opening "
                                 "balances."))


def read(content):
    """(headers, rows) of the first sheet, the rows an iterator of [row number, cells] read as
    they are asked for (a file of 50,000 rows is never held whole: issue 26), each as wide as
    the headers at least (a bad row comes back with its error in the last column). A formula
    is refused, never evaluated. Raises InvalidInput: for the file and its headers at once,
    for a formula, a sheet too long or without rows as its rows are read (an upload reads them
    all, so a file kept for later raises none of these again)."""
    try:
        rows = read_sheet(content)
    except Exception:  # any unreadable file (bad zip, bad XML inside, not a workbook at all)
        raise InvalidInput(_("This file is not an .xlsx spreadsheet (save it from Excel or "
                             "WPS as .xlsx and try again)."), field="file") from None
    try:
        first, headers = next(rows, (None, None))
        if first != 1 or not any(h not in (None, "") for h in headers):
            raise InvalidInput(_("The first row of the sheet must hold the column headers."),
                               field="file")
    except BaseException:
        rows.close()
        raise
    return ["" if h is None else str(h).strip() for h in headers], _data(rows, len(headers))


def _data(rows, width):
    """The rows after the headers that hold anything, checked for formulas, up to MAX_ROWS."""
    count = 0
    try:
        for number, row in rows:
            if all(v in (None, "") for v in row):
                continue
            for column, value in enumerate(row):
                if type(value) is Formula or isinstance(value, str) and value.startswith("="):
                    raise InvalidInput(_("Row %(n)s, column %(column)s holds a formula: save "
                                         "the values only (paste as values) and upload again.",
                                         n=number, column=column + 1), field="file")
            count += 1
            if count > MAX_ROWS:
                raise InvalidInput(_("The sheet has more than %(n)s rows; split it into "
                                     "smaller files.", n=MAX_ROWS), field="file")
            if len(row) < width:
                row += [None] * (width - len(row))
            yield [number, row]
    finally:
        rows.close()
    if not count:
        raise InvalidInput(_("The sheet has headers but no rows."), field="file")


def guess_mapping(kind, headers):
    """The mapping of the last file of this kind with the same headers; else by the fields'
    aliases."""
    remembered = db.session.scalar(
        select(OpeningBatch.mapping).where(OpeningBatch.kind == kind.code,
                                           OpeningBatch.headers == headers,
                                           OpeningBatch.mapping.is_not(None),
                                           OpeningBatch.status != "uploaded")
        .order_by(OpeningBatch.id.desc()).limit(1)) if db.session.get_bind().dialect.name \
        == "sqlite" else None
    if remembered is None:  # JSON equality is not portable: compared here
        for candidate, mapping in db.session.execute(
                select(OpeningBatch.headers, OpeningBatch.mapping)
                .where(OpeningBatch.kind == kind.code, OpeningBatch.status != "uploaded",
                       OpeningBatch.mapping.is_not(None))
                .order_by(OpeningBatch.id.desc()).limit(50)):
            if candidate == headers:
                remembered = mapping
                break
    if remembered:
        return dict(remembered)
    mapping = {}
    for index, header in enumerate(headers):
        text = header.strip().lower()
        for f in kind.fields:
            if f.key not in mapping and (text in f.aliases or text == str(f.label).lower()):
                mapping[f.key] = index
                break
    return mapping


def upload(kind, filename, content, *, actor, now=None):
    """Keep an uploaded file for mapping; check it first (read to its end: its rows counted
    and checked for formulas, none kept)."""
    _require(actor)
    headers, rows = read(content)
    row_count = sum(1 for _row in rows)
    batch = OpeningBatch(kind=kind.code, filename=(filename or "import.xlsx")[:200],
                         content=content, headers=headers, row_count=row_count,
                         mapping=guess_mapping(kind, headers), created_by_id=actor.id,
                         created_at=now or utcnow())
    db.session.add(batch)
    db.session.flush()
    return batch


def batch_or_404(token, actor):
    _require(actor)
    batch = db.session.scalar(select(OpeningBatch).where(OpeningBatch.token == str(token)))
    if batch is None or batch.kind not in KINDS:
        raise NotFound(_("This import does not exist."))
    return batch


def set_mapping(batch, mapping):
    """Save the column mapping: every required field has a column; a column maps to one field."""
    kind = KINDS[batch.kind]
    keys = {f.key for f in kind.fields}
    clean = {key: int(index) for key, index in mapping.items()
             if key in keys and index is not None and int(index) >= 0}
    for f in kind.fields:
        if f.required and f.key not in clean:
            raise InvalidInput(_("Choose the column that holds %(field)s.", field=f.label),
                               field=f.key)
    if any(index >= len(batch.headers) for index in clean.values()):
        raise InvalidInput(_("Unknown column."))
    if len(set(clean.values())) != len(clean):
        raise InvalidInput(_("A column can be used for one field only."))
    batch.mapping = clean
    db.session.flush()


@dataclass(slots=True)  # slots: a dry run keeps one per row
class RowResult:
    number: int  # the row number in the spreadsheet (headers are row 1)
    status: str  # "import", "repeated" (imported before), "invalid"
    #: The row as read (the file's own list, not a copy), and the columns never shown.
    row: list = ()
    secret: frozenset = frozenset()
    message: str = ""
    plan: dict | None = None
    key: str = ""

    @property
    def cells(self):
        """The row's cells as text, a secret one blank: made when a page or the bad rows ask
        (a few hundred rows), not kept for every row."""
        return ["" if index in self.secret else _text(v) for index, v in enumerate(self.row)]


def check_rows(batch, *, actor, now=None, progress=None):
    """The batch's rows checked as the file is read, CHUNK rows at a time, each chunk against a
    Context of its own (its customers read at once, then let go): lists of RowResult, with a
    plan for each row to import. Neither the file's rows nor their results are held past
    their chunk here (a background dry run keeps only the rows its page shows). `progress(rows
    done, invalid so far)` after each row. Writes nothing."""
    if not batch.mapping:
        raise InvalidInput(_("Map the columns first."))
    kind = KINDS[batch.kind]
    today = local_day(now or utcnow())
    secret = frozenset(batch.mapping[f.key] for f in kind.fields
                       if f.secret and f.key in batch.mapping)
    mapping = list(batch.mapping.items())
    keys, done, invalid = {}, 0, 0
    _headers, rows = read(batch.content)
    with closing(rows):
        while chunk := list(islice(rows, CHUNK)):
            context = (kind.context or Context)(actor, [row for _n, row in chunk],
                                                batch.mapping, today)
            results = []
            for number, row in chunk:
                values = {key: row[index] if index < len(row) else None
                          for key, index in mapping}
                result = RowResult(number=number, status="import", row=row, secret=secret)
                try:
                    result.plan = kind.parse(values, context)
                    result.key = kind.key(result.plan)
                    if result.key in keys:
                        raise InvalidInput(_("The same as row %(n)s of this file.",
                                             n=keys[result.key]))
                    keys[result.key] = number
                except InvalidInput as exc:
                    result.status, result.message = "invalid", str(exc.message)
                    invalid += 1
                results.append(result)
                done += 1
                if progress is not None:
                    progress(done, invalid)
            del context, chunk
            yield _mark_repeated(kind, results)


def _mark_repeated(kind, results):
    """The rows of a chunk imported before (their keys in opening_rows): "repeated"."""
    imported = set()
    for part in _chunks(sorted({r.key for r in results if r.status == "import"})):
        imported.update(db.session.scalars(select(OpeningRow.row_key).where(
            OpeningRow.kind == kind.code, OpeningRow.row_key.in_(part))))
    for result in results:
        if result.status == "import" and result.key in imported:
            result.status, result.message = "repeated", _("Imported before: left alone.")
    return results


def dry_run(batch, *, actor, now=None, progress=None):
    """What confirming would do, row by row. Writes nothing. `progress(rows done, invalid so
    far)` is called after each row when given (a background run)."""
    results = []
    for chunk in check_rows(batch, actor=actor, now=now, progress=progress):
        for result in chunk:
            result.plan = None  # made again by the confirmation, a chunk at a time
        results += chunk
    return results


def summarise(results):
    counts = {"import": 0, "repeated": 0, "invalid": 0}
    for result in results:
        counts[result.status] += 1
    return counts


# --- Confirm and roll back ---------------------------------------------------------------------

def confirm(batch, *, mode, actor, now=None, progress=None):
    """Write the batch's rows: all or nothing (mode "all": refused while any row is invalid),
    or the good rows only (mode "good": the bad ones are kept in the result). Rows imported
    before are left alone. Returns the result."""
    _require(actor)
    if mode not in MODES:
        raise InvalidInput(_("Choose how to import."), field="mode")
    now = now or utcnow()
    db.session.execute(select(OpeningBatch.id).where(OpeningBatch.id == batch.id)
                       .with_for_update())  # two clicks on "import" import once
    db.session.refresh(batch)
    if batch.status != "uploaded":
        raise Conflict(_("This import has already been confirmed."))
    kind = KINDS[batch.kind]
    counts, bad = {"import": 0, "repeated": 0, "invalid": 0}, []
    # Checked as the dry run checks, and written as it goes, a chunk at a time (a file's
    # customers are never held at once), in a savepoint: all or nothing, refused for an invalid
    # row anywhere, undoes the chunks written before it.
    with db.session.begin_nested():
        for results in check_rows(batch, actor=actor, now=now, progress=progress):
            for result in results:
                counts[result.status] += 1
            bad += [[r.number, r.cells, r.message] for r in results if r.status == "invalid"]
            wanted = [result for result in results if result.status == "import"]
            if wanted and not (mode == "all" and counts["invalid"]):
                _write(kind, wanted, batch, actor, now)
        if mode == "all" and counts["invalid"]:
            raise InvalidInput(_("%(n)s rows are invalid: correct them and upload the file "
                                 "again, or import the good rows only. Nothing was imported.",
                                 n=counts["invalid"]))
    if progress is not None:  # written as they were checked: done with the last chunk
        progress(sum(counts.values()), counts["invalid"], stage="write")
    batch.status, batch.mode, batch.confirmed_at = "done", mode, now
    batch.content = b""  # the file is not kept once imported (a users file holds passwords)
    batch.result = {"imported": counts["import"], "repeated": counts["repeated"],
                    "invalid": counts["invalid"], "bad": bad[:MAX_ROWS]}
    db.session.flush()
    audit(actor, "opening.import", batch, summary=_(
        "%(kind)s from %(file)s: %(imported)s imported, %(repeated)s imported before, "
        "%(invalid)s bad rows", kind=kind.label, file=batch.filename,
        imported=counts["import"], repeated=counts["repeated"], invalid=counts["invalid"]),
        now=now)
    return batch.result


def _write(kind, results, batch, actor, now):
    """A chunk's rows to import written (the kind's apply_many, or apply row by row and one
    flush), and their keys."""
    state = kind.prepare([result.plan for result in results], batch) if kind.prepare else None
    if kind.apply_many is not None:
        written = kind.apply_many([result.plan for result in results], batch, actor, now, state)
    else:
        entries = []
        for result in results:
            try:
                entries.append(kind.apply(result.plan, batch, actor, now, state))
            except (InvalidInput, Conflict) as exc:
                raise type(exc)(_("Row %(n)s: %(message)s Nothing was imported.",
                                  n=result.number, message=exc.message)) from None
        db.session.flush()  # the entries get their ids
        written = [(customer_id, entry.__tablename__, entry.id)
                   for customer_id, entry in entries]
    db.session.execute(OpeningRow.__table__.insert(), [
        {"batch_id": batch.id, "kind": kind.code, "row_key": result.key,
         "number": result.number, "customer_id": customer_id, "target_type": table,
         "target_id": target_id}
        for result, (customer_id, table, target_id) in zip(results, written)])


def rollback(batch, *, actor, now=None):
    """Reverse every row the batch wrote, while nothing has happened to them since; all or
    nothing."""
    _require(actor)
    now = now or utcnow()
    db.session.execute(select(OpeningBatch.id).where(OpeningBatch.id == batch.id)
                       .with_for_update())
    db.session.refresh(batch)
    if batch.status != "done":
        raise Conflict(_("Only an import that was confirmed can be rolled back, once."))
    kind = KINDS[batch.kind]
    rows = db.session.scalars(select(OpeningRow).where(OpeningRow.batch_id == batch.id)
                              .order_by(OpeningRow.id)).all()
    with db.session.begin_nested():  # a row refused: none of them is undone
        for row in rows:
            kind.undo(row, actor, now)
        # The keys go, so that the corrected file can be imported again.
        for row in rows:
            db.session.delete(row)
        db.session.flush()
    batch.status, batch.rolled_back_at, batch.rolled_back_by_id = "rolled_back", now, actor.id
    db.session.flush()
    audit(actor, "opening.rollback", batch, summary=_(
        "%(kind)s from %(file)s: %(n)s rows reversed", kind=kind.label, file=batch.filename,
        n=len(rows)), now=now)
    return len(rows)


def batches(kind=None, limit=100):
    """导入记录: the latest imports, of one kind or all."""
    query = select(OpeningBatch).order_by(OpeningBatch.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(OpeningBatch.kind == kind.code)
    return db.session.scalars(query).all()


def template_rows(kind):
    """The headers and one example row of a kind's template."""
    return [[str(f.label) for f in kind.fields],
            [kind.example.get(f.key, "") for f in kind.fields]]


def bad_rows(batch):
    """The headers (and an error column) and the bad rows of a confirmed batch, to fix and
    import again."""
    header = [*batch.headers, _("What is wrong")]
    return [header, *[[*cells, message] for _n, cells, message in
                      (batch.result or {}).get("bad", [])]]

"""The monthly commission run: computed (and recomputed while a draft), approved by finance,
then locked. The rules it follows are in models/commission/__init__.py."""
import calendar
import logging
import re
from collections import defaultdict
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import and_, case, delete, exists, func, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from extensions import db
from formatting import fen
from models.accounts import User, UserRole
from models.audit import audit
from models.base import Conflict, InvalidInput, NotFound, PermissionDenied, utcnow
from models.clock import Calendar, day_start, local_day
from models.commission.rules import current_rules, order_rate, tier_multiplier
from models.commission.tables import FULL_RATE_BP, CommissionLine, CommissionRun
from models.customers import Customer, OwnershipChange
from models.inventory import Product
from models.orders import Order, OrderLine, OrderReturn, Payment
from models.scoping import department_subtree
from models.targets import targets_of

logger = logging.getLogger(__name__)

#: Roles that compute (and discard) a draft; finance approves.
COMPUTE_ROLES = ("manager", "finance")
APPROVE_ROLES = ("finance",)
#: Roles that see every marketer's commission.
ALL_MARKETERS = ("admin", "manager", "finance")
#: Payments recorded this long before the month before was computed are certainly in it: the
#: late payments are looked for among those recorded after (a bound for speed only; which were
#: counted is read from the locked lines).
MARGIN = timedelta(days=1)
#: Ids per IN (…) list.
CHUNK = 900


# --- Months ----------------------------------------------------------------------------------

def next_month(month):
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(month):
    return (month - timedelta(days=1)).replace(day=1)


def add_months(day, months):
    """The same day `months` later (the month's last day when it is shorter)."""
    years, index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def month_bounds(month):
    """(since, until) in UTC of the company month beginning on `month`."""
    return day_start(month), day_start(next_month(month))


def parse_month(raw, today):
    """"2026-03" (or a day in it: "2026-03-15") → the 1st of that month; this month when
    blank. Raises InvalidInput for anything else."""
    raw = raw.strip() if isinstance(raw, str) else ""
    if not raw:
        return today.replace(day=1)
    match = re.fullmatch(r"(\d{4})-(\d{2})(-\d{2})?", raw)
    if match is None or not 2000 <= int(match[1]) <= 2999 or not 1 <= int(match[2]) <= 12:
        raise InvalidInput(_("Not a month: %(value)s (write it as 2026-03).", value=raw[:20]),
                           field="month")
    return date(int(match[1]), int(match[2]), 1)


def month_label(month):
    return f"{month:%Y-%m}"


# --- Scope -----------------------------------------------------------------------------------

def marketer_clause(user):
    """A WHERE clause on User: the people whose commission `user` may see — everyone for
    managers and finance, a head's department (and below), a marketer themself."""
    if user.has_role(*ALL_MARKETERS):
        return true()
    clauses = [User.id == user.id]
    if user.has_role("dept_head") and user.department_id is not None:
        clauses.append(User.department_id.in_(department_subtree(user.department_id)))
    return or_(*clauses)


def marketer_or_404(marketer_id, user):
    """The marketer whose commission `user` may see, else NotFound."""
    found = db.session.scalar(select(User).where(User.id == marketer_id, marketer_clause(user))) \
        if isinstance(marketer_id, int) and 0 < marketer_id < 2**31 else None
    if found is None:
        raise NotFound(_("Not found, or not yours to see."))
    return found


def marketers_seen(user, department_ids=None):
    """The active marketers `user` may see (of the departments given, when given), by name."""
    query = select(User).where(User.is_active.is_(True), marketer_clause(user), User.id.in_(
        select(UserRole.user_id).where(UserRole.role == "marketer"))).order_by(
        User.display_name)
    if department_ids is not None:
        query = query.where(User.department_id.in_(department_ids))
    return list(db.session.scalars(query))


# --- Reading ---------------------------------------------------------------------------------

def run_of(month):
    return db.session.scalar(select(CommissionRun).where(CommissionRun.month == month))


def first_month():
    """The month of the first run: payments dated before it are never counted."""
    return db.session.scalar(select(func.min(CommissionRun.month)))


def _previous_approved(month):
    return db.session.scalar(select(CommissionRun).where(
        CommissionRun.month < month, CommissionRun.status == "approved")
        .order_by(CommissionRun.month.desc()).limit(1))


def _payment_query():
    original = aliased(Payment)
    return select(Payment.id, Payment.kind, original.kind, Payment.amount, Payment.at,
                  Order.id, Order.marketer_id, Order.customer_id).join(
        Order, Order.id == Payment.order_id).outerjoin(
        original, original.id == Payment.reverses_id)


def _not_locked():
    """Payments no locked run has counted."""
    return ~exists().where(CommissionLine.payment_id == Payment.id,
                           CommissionLine.role == "sale", CommissionLine.locked)


def _late_where(month):
    """The conditions of the payments dated before `month` that no locked run counted: those
    recorded after the month before was locked (back-dated entries, or entries made late), and
    never before the first run's month. None when no month before is locked."""
    previous = _previous_approved(month)
    if previous is None:
        return None
    since, _until = month_bounds(month)
    return (Payment.at >= day_start(first_month()), Payment.at < since,
            Payment.recorded_at >= previous.computed_at - MARGIN, _not_locked())


def _count(where):
    return db.session.scalar(select(func.count()).select_from(Payment).where(*where))


def stale_reason(run):
    """Why a draft no longer matches the records (a message), or None: a payment recorded
    since it was computed (the ledger only grows: the counts tell), or the rules or the
    month's money-collected targets changed."""
    since, until = month_bounds(run.month)
    late = _late_where(run.month)
    now_count = _count((Payment.at >= since, Payment.at < until))
    late_count = _count(late) if late is not None else 0
    new = (now_count - run.payments) + (late_count - run.late_payments)
    if new:
        return _("%(n)s payments were recorded since the draft was computed: compute it again "
                 "before it is approved.", n=new)
    if current_rules() != run.rules:
        return _("The commission rules changed since the draft was computed: compute it again "
                 "before it is approved.")
    ids = [int(key) for key in run.summary]
    targets = targets_of("marketer", ids, "month", run.month)
    if any(targets.get(int(key), {}).get("collections") != row["target"]
           for key, row in run.summary.items()):
        return _("A money collected target of the month changed since the draft was computed: "
                 "compute it again before it is approved.")
    return None


def totals(run, marketer_ids=None):
    """{marketer id: {"sale", "clawback", "developer", "returns", "lines", "total"}} in fen:
    the commission on money received (the + lines), what refunds and reversals took back (the
    − lines), the developer's share (net), the value of the returns listed (their money comes
    back through the refund lines), the number of lines, and the total."""
    sale = CommissionLine.role == "sale"
    query = select(
        CommissionLine.marketer_id,
        func.sum(case((and_(sale, CommissionLine.commission > 0), CommissionLine.commission),
                      else_=0)),
        func.sum(case((and_(sale, CommissionLine.commission < 0), CommissionLine.commission),
                      else_=0)),
        func.sum(case((CommissionLine.role == "developer", CommissionLine.commission),
                      else_=0)),
        func.sum(case((CommissionLine.role == "return", -CommissionLine.base), else_=0)),
        func.count(), func.sum(CommissionLine.commission)).where(
        CommissionLine.run_id == run.id).group_by(CommissionLine.marketer_id)
    if marketer_ids is not None:
        query = query.where(CommissionLine.marketer_id.in_(list(marketer_ids)))
    keys = ("sale", "clawback", "developer", "returns", "lines", "total")
    return {row[0]: dict(zip(keys, (int(value or 0) for value in row[1:])))
            for row in db.session.execute(query)}


def lines_of(run, marketer_id):
    """The lines of one marketer in a run, in the order the money moved: [(line, order number,
    customer name)]."""
    return db.session.execute(
        select(CommissionLine, Order.number, Customer.name)
        .join(Order, Order.id == CommissionLine.order_id)
        .join(Customer, Customer.id == CommissionLine.customer_id)
        .where(CommissionLine.run_id == run.id, CommissionLine.marketer_id == marketer_id)
        .order_by(CommissionLine.at, CommissionLine.id)).all()


# --- Computing -------------------------------------------------------------------------------

def _times(base, numerator, denominator):
    """base × numerator ÷ denominator in whole fen, rounded half away from zero."""
    product = abs(base) * numerator
    rounded = (2 * product + denominator) // (2 * denominator)
    return rounded if base >= 0 else -rounded


def _chunks(ids):
    ids = sorted(ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _order_rates(order_ids, rules):
    """{order id: basis points} for the orders."""
    lines = defaultdict(list)
    for chunk in _chunks(order_ids):
        for order_id, package_id, category_id, value in db.session.execute(
                select(OrderLine.order_id, OrderLine.package_id, Product.category_id,
                       func.sum(OrderLine.quantity * OrderLine.unit_price - OrderLine.discount))
                .join(Product, Product.id == OrderLine.product_id)
                .where(OrderLine.order_id.in_(chunk))
                .group_by(OrderLine.order_id, OrderLine.package_id, Product.category_id)):
            lines[order_id].append((package_id, category_id, value or 0))
    return {order_id: order_rate(lines.get(order_id, []), rules) for order_id in order_ids}


def _developers(customer_ids, months):
    """{customer id: (developer id, the UTC moment their share ends)}: the first owner the
    customer was registered to (their "create" ownership change), kept after transfers and the
    pool; the share runs `months` months from the registration's company day."""
    found, calendar = {}, Calendar()
    for chunk in _chunks(customer_ids):
        for customer_id, owner_id, at in db.session.execute(
                select(OwnershipChange.customer_id, OwnershipChange.to_owner_id,
                       OwnershipChange.at).where(OwnershipChange.customer_id.in_(chunk),
                                                 OwnershipChange.kind == "create")
                .order_by(OwnershipChange.id)):
            if customer_id not in found and owner_id is not None:
                found[customer_id] = (owner_id, calendar.day_start(
                    add_months(calendar.local_day(at), months)))
    return found


def _line_rows(run, rules, month_rows, late_rows, locked_multipliers):
    """The lines of the run as dicts (bulk insert), and its summary."""
    collected = defaultdict(int)
    for _id, kind, reversed_kind, amount, _at, _order, marketer_id, _customer in month_rows:
        if (reversed_kind if kind == "reversal" else kind) != "refund":
            collected[marketer_id] += amount
    sellers = {row[6] for row in month_rows} | set(collected)
    targets = targets_of("marketer", sellers, "month", run.month)
    summary = {}
    for marketer_id in sellers:
        target = targets.get(marketer_id, {}).get("collections")
        summary[str(marketer_id)] = {"target": target, "collected": collected[marketer_id],
                                     "multiplier": tier_multiplier(collected[marketer_id],
                                                                   target, rules["tiers"])}
    rows = month_rows + late_rows
    rates = _order_rates({row[5] for row in rows}, rules)
    share, months = rules["developer_bp"], rules["developer_months"]
    developers = _developers({row[7] for row in rows}, months) if share and months else {}
    lines, since, calendar = [], month_bounds(run.month)[0], Calendar()
    for payment_id, kind, reversed_kind, amount, at, order_id, marketer_id, customer_id in rows:
        late = at < since
        multiplier = locked_multipliers.get(
            (calendar.local_day(at).replace(day=1), marketer_id), 100) \
            if late else summary[str(marketer_id)]["multiplier"]
        rate = rates[order_id]
        shown_kind = reversed_kind if kind == "reversal" and reversed_kind else kind
        common = {"run_id": run.id, "payment_id": payment_id, "return_id": None,
                  "order_id": order_id, "customer_id": customer_id, "kind": shown_kind,
                  "at": at, "is_late": late, "base": amount, "locked": False}
        lines.append({**common, "marketer_id": marketer_id, "role": "sale", "rate_bp": rate,
                      "multiplier": multiplier,
                      "commission": _times(amount, rate * multiplier, 100 * FULL_RATE_BP)})
        developer = developers.get(customer_id)
        if developer is not None and developer[0] != marketer_id and at < developer[1]:
            lines.append({**common, "marketer_id": developer[0], "role": "developer",
                          "rate_bp": share, "multiplier": 100,
                          "commission": _times(amount, share, FULL_RATE_BP)})
    return lines, summary


def _returns(run):
    since, until = month_bounds(run.month)
    return [{"run_id": run.id, "payment_id": None, "return_id": return_id, "order_id": order_id,
             "customer_id": customer_id, "kind": "return", "at": at, "is_late": False,
             "base": -value, "locked": False, "marketer_id": marketer_id, "role": "return",
             "rate_bp": 0, "multiplier": 100, "commission": 0}
            for return_id, value, at, order_id, marketer_id, customer_id in db.session.execute(
                select(OrderReturn.id, OrderReturn.value, OrderReturn.at, Order.id,
                       Order.marketer_id, Order.customer_id)
                .join(Order, Order.id == OrderReturn.order_id)
                .where(OrderReturn.at >= since, OrderReturn.at < until))]


def _locked_multipliers(months):
    """{(month, marketer id): multiplier} of the locked runs of `months`."""
    found = {}
    for month, summary in db.session.execute(select(CommissionRun.month, CommissionRun.summary)
                                             .where(CommissionRun.month.in_(list(months)),
                                                    CommissionRun.status == "approved")):
        for key, row in summary.items():
            found[(month, int(key))] = row["multiplier"]
    return found


def _check_order(month):
    """A new run: the first ever, or the month after the last locked one, with no other draft
    open (months are locked in order, so a late payment has one month to go to)."""
    runs = db.session.execute(select(CommissionRun.month, CommissionRun.status)
                              .order_by(CommissionRun.month)).all()
    drafts = [m for m, status in runs if status == "draft"]
    if drafts:
        raise Conflict(_("The draft of %(month)s is open: approve it or discard it first "
                         "(months are approved one after the other).",
                         month=month_label(drafts[0])))
    approved = [m for m, status in runs if status == "approved"]
    if approved and month < approved[0]:
        raise Conflict(_("Commission is counted from %(first)s, the first month computed: the "
                         "months before it are not.", first=month_label(approved[0])))
    if approved and month != next_month(approved[-1]):
        raise Conflict(_("Months are approved one after the other: compute %(month)s first.",
                         month=month_label(next_month(approved[-1]))))


def _require(actor, roles, message):
    if not actor.has_role(*roles):
        raise PermissionDenied(message)


def _locked_run(month):
    return db.session.scalar(select(CommissionRun).where(CommissionRun.month == month)
                             .with_for_update(of=CommissionRun)
                             .execution_options(populate_existing=True))


def check_month(month, today):
    if not isinstance(month, date) or month.day != 1:
        raise InvalidInput(_("Choose a month."), field="month")
    if month > today.replace(day=1):
        raise InvalidInput(_("%(month)s has not begun: a month in the future has no "
                             "commission.", month=month_label(month)), field="month")


def compute_run(month, *, actor, now=None):
    """Compute (or recompute, while a draft) the commission of every marketer for `month`.
    Refused for a locked month, a month in the future, or out of order. Returns the run."""
    _require(actor, COMPUTE_ROLES, _("Commission is computed by a manager or finance."))
    now = now or utcnow()
    check_month(month, local_day(now))
    run = _locked_run(month)
    if run is not None and run.is_locked:
        raise Conflict(_("%(month)s is approved and locked: it is never computed again. "
                         "Corrections go into the next month's run.", month=month_label(month)))
    if run is None:
        _check_order(month)
        run = CommissionRun(month=month, status="draft", computed_by_id=actor.id,
                            computed_at=now, rules={}, summary={})
        try:
            with db.session.begin_nested():
                db.session.add(run)
        except IntegrityError:
            raise Conflict(_("%(month)s is being computed by someone else: reload the page.",
                             month=month_label(month))) from None
    else:
        db.session.execute(delete(CommissionLine).where(CommissionLine.run_id == run.id))
    rules = current_rules()
    since, until = month_bounds(month)
    month_rows = [tuple(row) for row in db.session.execute(
        _payment_query().where(Payment.at >= since, Payment.at < until))]
    late = _late_where(month)
    late_rows = [tuple(row) for row in db.session.execute(_payment_query().where(*late))] \
        if late is not None else []
    locked = _locked_multipliers({local_day(row[4]).replace(day=1) for row in late_rows})
    lines, summary = _line_rows(run, rules, month_rows, late_rows, locked)
    lines += _returns(run)
    for start in range(0, len(lines), 5000):
        # Core, not the ORM's bulk insert: a month is ~150,000 lines at full size
        db.session.execute(insert(CommissionLine.__table__), lines[start:start + 5000])
    run.rules, run.summary = rules, summary
    run.total = sum(line["commission"] for line in lines)
    run.payments, run.late_payments = len(month_rows), len(late_rows)
    run.computed_at, run.computed_by_id = now, actor.id
    db.session.flush()
    audit(actor, "commission.compute", run, summary=f"{month_label(month)} · "
          f"{len(lines)} · {fen(run.total)}", now=now)
    logger.info("Commission %s: %d lines, %d late payments", month_label(month), len(lines),
                len(late_rows))
    return run


def approve_run(month, *, actor, now=None):
    """Finance approves the month's draft: it is locked for good. Refused when the month is not
    over, the draft is stale, or it is locked already."""
    _require(actor, APPROVE_ROLES, _("Commission is approved by finance."))
    now = now or utcnow()
    run = _locked_run(month)
    if run is None:
        raise NotFound(_("%(month)s has no commission computed yet.", month=month_label(month)))
    if run.is_locked:
        raise Conflict(_("%(month)s is approved and locked already.", month=month_label(month)))
    if next_month(month) > local_day(now):
        raise Conflict(_("%(month)s is not over yet: it is approved after its last day.",
                         month=month_label(month)))
    earlier = db.session.scalar(select(func.min(CommissionRun.month)).where(
        CommissionRun.month < month, CommissionRun.status == "draft"))
    if earlier is not None:
        raise Conflict(_("Months are approved one after the other: approve %(month)s first.",
                         month=month_label(earlier)))
    reason = stale_reason(run)
    if reason:
        raise Conflict(reason)
    run.status, run.approved_at, run.approved_by_id = "approved", now, actor.id
    try:
        with db.session.begin_nested():
            db.session.execute(update(CommissionLine).where(CommissionLine.run_id == run.id)
                               .values(locked=True))
    except IntegrityError:  # a payment another locked run counted: never twice
        raise Conflict(_("A payment of this draft was counted by a locked month already: "
                         "compute it again.")) from None
    db.session.flush()
    audit(actor, "commission.approve", run, summary=f"{month_label(month)} · {fen(run.total)}",
          now=now)
    return run


def discard_run(month, *, actor, now=None):
    """Throw a draft away (it was never approved: nothing is lost)."""
    _require(actor, COMPUTE_ROLES, _("Commission is computed by a manager or finance."))
    run = _locked_run(month)
    if run is None:
        raise NotFound(_("%(month)s has no commission computed yet.", month=month_label(month)))
    if run.is_locked:
        raise Conflict(_("%(month)s is approved and locked: it is never computed again. "
                         "Corrections go into the next month's run.", month=month_label(month)))
    db.session.execute(delete(CommissionLine).where(CommissionLine.run_id == run.id))
    audit(actor, "commission.discard", run, summary=month_label(month), now=now)
    db.session.delete(run)
    db.session.flush()

"""Packages, payments, refunds, reversals, the daily close. The caller commits. Taking an order
and the goods that go with it — handing over, custody, returns, a large order's confirmation —
are order taking's (models/order_taking.py).

Every operation that moves money locks the order row first (SELECT … FOR UPDATE on PostgreSQL;
SQLite serialises writers) and checks the balance on what it read under the lock. Every one
that writes a ledger entry takes the form's one-time token: a repeat returns the first entry.
"""
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from formatting import fen
from models import inventory as inv, points
from models.accounts import User
from models.audit import audit
from models.base import (Conflict, InvalidInput, NotFound, PermissionDenied, add_once,
                         utcnow)
from models.clock import day_bounds, local_day
from models.orders import pricing
from models.orders.safeguards import check_refund_approval
from models.orders.tables import (METHODS, RECEIPT_KINDS, CashClose, CashClosePayment, Order,
                                  Package, PackageItem, Payment)

DOCUMENT = "orders"
MAX_ORDER_FEN = 100_000_000          # ¥1,000,000
MAX_LINES = 50
SELLER_ROLES = ("manager", "dept_head", "marketer")
CASHIER_ROLES = ("manager", "dept_head", "marketer", "finance")
APPROVER_ROLES = ("manager", "finance")
CLOSE_ROLES = ("manager", "finance")
#: Roles that reopen a closed session of a cashier's day.
REOPEN_ROLES = ("manager",)
#: Roles that approve a goodwill refund (beyond what was overpaid).
GOODWILL_ROLES = ("manager",)
#: Roles that enter money received on an earlier day (the rest record it as it happens).
BACKDATE_ROLES = ("manager", "finance")


# --- Helpers ---------------------------------------------------------------------------------

def _require(actor, roles, message):
    if not actor.has_role(*roles):
        raise PermissionDenied(message)


def lock_order(order):
    """The order row, locked and re-read: balances are checked on what this returns."""
    locked = db.session.scalar(select(Order).where(Order.id == order.id)
                               .with_for_update(of=Order)
                               .execution_options(populate_existing=True))
    if locked is None:
        raise NotFound(_("No such order."))
    return locked


def refresh_balance(order):
    """The order's balance due after what it is worth or what is paid changed."""
    order.balance_due = order.total - order.returned_value - order.paid


def _check_amount(amount, field="amount"):
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput(_("Enter an amount above zero."), field=field)
    if amount > MAX_ORDER_FEN:
        raise InvalidInput(_("The amount is too large."), field=field)
    return amount


def _when(at, now, actor):
    """The moment money changed hands: now, or an earlier moment finance enters."""
    if at is None:
        return now
    if not actor.has_role(*BACKDATE_ROLES) and local_day(at) != local_day(now):
        raise PermissionDenied(_("Only finance or a manager enters money received on another "
                                 "day."), field="at")
    if at > now + timedelta(minutes=5):
        raise InvalidInput(_("A payment cannot be dated in the future."), field="at")
    if at < now - timedelta(days=366):
        raise InvalidInput(_("A payment more than a year old cannot be entered."), field="at")
    return at


def entry_by_token(model, token, order):
    """The entry already written with this token; refused when it belongs to another order."""
    prior = model.by_token(token) if token else None
    if prior is not None and prior.order_id != order.id:
        raise Conflict(_("This form was already used for another order. Reload the page."))
    return prior


# --- Packages --------------------------------------------------------------------------------

def save_package(package, *, name, price, items, description="", is_active=True, actor):
    """Create (package=None) or change a package: a name, a price, products and quantities."""
    _require(actor, ("manager",), _("Only a manager sets packages."))
    name = (name or "").strip()
    if not name or len(name) > 40:
        raise InvalidInput(_("Enter the package's name (at most 40 characters)."), field="name")
    clash = db.session.scalar(select(Package.id).where(Package.name == name))
    if clash is not None and (package is None or clash != package.id):
        raise Conflict(_("A package named %(name)s exists.", name=name), field="name")
    _check_amount(price, "price")
    items = [(product, quantity) for product, quantity in items if product is not None]
    if not items:
        raise InvalidInput(_("Add at least one product to the package."), field="items")
    if len({product.id for product, _q in items}) != len(items):
        raise InvalidInput(_("Each product once per package."), field="items")
    for product, quantity in items:
        inv.check_quantity(quantity, "items")
        if not product.for_sale or not product.is_active:
            raise InvalidInput(_("%(name)s is not for sale.", name=product.name), field="items")
    list_price = sum(product.sale_price * quantity for product, quantity in items)
    floor = sum(pricing.floor_price(product) * quantity for product, quantity in items)
    if price < floor:
        raise InvalidInput(_("The package price %(price)s is below its products' floor prices "
                             "%(floor)s.", price=fen(price), floor=fen(floor)), field="price")
    if price > list_price:
        raise InvalidInput(_("The package price %(price)s is above the products' list price "
                             "%(list)s.", price=fen(price), list=fen(list_price)),
                           field="price")
    if package is None:
        package = Package(name=name, price=price)
        db.session.add(package)
    package.name, package.price, package.is_active = name, price, bool(is_active)
    package.description = (description or "").strip()[:200]
    package.items.clear()
    db.session.flush()
    package.items.extend(PackageItem(product_id=product.id, quantity=quantity, product=product)
                         for product, quantity in items)
    db.session.flush()
    audit(actor, "package.save", package, summary=f"{package.name} {fen(package.price)}")
    return package


def packages(active_only=True):
    query = select(Package).order_by(Package.price.desc(), Package.name)
    if active_only:
        query = query.where(Package.is_active.is_(True))
    return db.session.scalars(query).all()


def package_lines(package, count=1, held=False):
    """The order lines a package stands for: list prices, with the package's saving spread
    over the lines as discounts (the last line takes the rounding), so the lines add up to the
    package price × count."""
    gross = [item.product.sale_price * item.quantity * count for item in package.items]
    saving = sum(gross) - package.price * count
    lines, left = [], saving
    for index, (item, line_gross) in enumerate(zip(package.items, gross)):
        share = left if index == len(gross) - 1 else \
            (saving * line_gross // sum(gross) if sum(gross) else 0)
        left -= share
        lines.append({"product": item.product, "quantity": item.quantity * count,
                      "unit_price": item.product.sale_price, "discount": share,
                      "package": package, "held": held})
    return lines


# --- Money -----------------------------------------------------------------------------------

def refuse_pending(order):
    """Refused while a large order waits for its confirmation (orders.safeguards)."""
    if order.is_pending:
        raise Conflict(_("Order %(number)s waits for a department head's or manager's "
                         "confirmation: nothing can be paid or handed over yet.",
                         number=order.number))


def receive_payment(order, *, amount, method, actor, token, kind=None, reference="", at=None,
                    now=None):
    """Money received against an order: a deposit, a balance payment or the full amount. Never
    more than is due."""
    _require(actor, CASHIER_ROLES, _("You may not take payments."))
    order = lock_order(order)
    if (prior := entry_by_token(Payment, token, order)) is not None:
        return prior
    now = now or utcnow()
    _check_amount(amount)
    if method not in METHODS:
        raise InvalidInput(_("Choose how the money was paid."), field="method")
    if order.status == "cancelled":
        raise Conflict(_("Order %(number)s is cancelled: no payment can be taken on it.",
                         number=order.number))
    refuse_pending(order)
    due = order.balance_due
    if due <= 0:
        raise Conflict(_("Order %(number)s is paid in full.", number=order.number),
                       field="amount")
    if amount > due:
        raise Conflict(_("Only %(due)s is due on %(number)s; %(amount)s is too much.",
                         due=fen(due), number=order.number, amount=fen(amount)), field="amount")
    at = _when(at, now, actor)
    if kind is None:
        kind = "full" if order.paid == 0 and amount == due else \
            ("deposit" if order.paid == 0 else "balance")
    if kind not in RECEIPT_KINDS:
        raise InvalidInput(_("Choose the kind of payment."), field="kind")
    payment, new = add_once(Payment(order_id=order.id, kind=kind, method=method,
                                    amount=amount, reference=(reference or "").strip()[:64],
                                    cashier_id=actor.id, at=at, recorded_at=now,
                                    token=token or None))
    if not new:
        return payment
    order.paid += amount
    refresh_balance(order)
    db.session.flush()
    points.earn_on_payment(order, payment, actor=actor, now=now)
    audit(actor, "payment.receive", order, summary=f"{order.number} {fen(amount)} "
          f"{METHODS[method]}", now=now)
    return payment


def refund(order, *, amount, method, reason, actor, approver, token, order_return=None,
           goodwill=False, at=None, now=None):
    """Money paid back to the customer, approved by a manager or a finance clerk; never more
    than was paid, and never more than was overpaid (paid − the order's net after returns), so
    that a refund cannot put the customer in debt by accident. Beyond that only a goodwill
    refund (`goodwill`): a manager approves it, with its reason, and it is audited as such."""
    _require(actor, APPROVER_ROLES, _("Refunds are paid out by finance or a manager."))
    if approver is None or not approver.is_active or not approver.has_role(*APPROVER_ROLES):
        raise PermissionDenied(_("A refund must be approved by a manager or a finance clerk."))
    order = lock_order(order)
    if (prior := entry_by_token(Payment, token, order)) is not None:
        return prior
    now = now or utcnow()
    _check_amount(amount)
    if method not in METHODS:
        raise InvalidInput(_("Choose how the money was paid back."), field="method")
    if not (reason or "").strip():
        raise InvalidInput(_("Say why the money is refunded."), field="reason")
    if amount > order.paid:
        raise Conflict(_("Only %(paid)s has been paid on %(number)s; %(amount)s cannot be "
                         "refunded.", paid=fen(order.paid), number=order.number,
                         amount=fen(amount)), field="amount")
    overpaid = order.overpaid
    beyond = amount > overpaid
    if beyond and not goodwill:
        raise Conflict(_("%(number)s is paid %(paid)s for goods of %(net)s after returns: at most "
                         "%(over)s can be refunded. Take the goods back first (a return), or "
                         "have a manager approve a goodwill refund.", number=order.number,
                         paid=fen(order.paid), net=fen(order.net_total),
                         over=fen(overpaid)), field="amount")
    if beyond and not approver.has_role(*GOODWILL_ROLES):
        raise PermissionDenied(_("A goodwill refund (more than was overpaid) is approved by a "
                                 "manager."), field="approver")
    at = _when(at, now, actor)
    check_refund_approval(order, actor=actor, approver=approver, at=at)
    payment = Payment(order_id=order.id, kind="refund", method=method, amount=-amount,
                      reason=reason.strip()[:200], cashier_id=actor.id,
                      approved_by_id=approver.id, at=at, recorded_at=now,
                      return_id=order_return.id if order_return else None, token=token or None)
    payment, new = add_once(payment)
    if not new:
        return payment
    order.paid -= amount
    refresh_balance(order)
    db.session.flush()
    points.take_back_on_refund(order, payment, actor=actor, now=now)
    audit(actor, "payment.goodwill_refund" if beyond else "payment.refund", order,
          summary=f"{order.number} −{fen(amount)}: {payment.reason}", now=now)
    return payment


def reverse_payment(payment, *, reason, actor, now=None):
    """Undo a wrongly entered payment or refund (finance only, audited): an entry the other
    way that names it."""
    _require(actor, ("finance",), _("Only finance reverses payments."))
    if not (reason or "").strip():
        raise InvalidInput(_("Say why the entry is reversed."), field="reason")
    if payment.kind == "reversal":
        raise Conflict(_("A reversal cannot itself be reversed."))
    order = lock_order(payment.order)
    if db.session.scalar(select(Payment.id).where(Payment.reverses_id == payment.id)):
        raise Conflict(_("This entry has already been reversed."))
    now = now or utcnow()
    paid = order.paid - payment.amount
    if paid < 0:
        raise Conflict(_("Reversing this would leave less than nothing paid: reverse the refunds "
                         "after it first."))
    if paid > order.total - order.returned_value:
        raise Conflict(_("Reversing this refund would take paid above what the goods kept are "
                         "worth."))
    reversal = Payment(order_id=order.id, kind="reversal", method=payment.method,
                       amount=-payment.amount, reason=reason.strip()[:200],
                       cashier_id=actor.id, at=now, recorded_at=now, reverses_id=payment.id)
    db.session.add(reversal)
    order.paid = paid
    refresh_balance(order)
    db.session.flush()
    if reversal.amount < 0:  # a receipt undone: the points it earned go back
        points.take_back_on_refund(order, reversal, actor=actor, now=now)
    else:  # a refund undone: the points come back
        points.earn_on_payment(order, reversal, actor=actor, now=now)
    audit(actor, "payment.reverse", order, summary=f"{order.number} #{payment.id}: "
          f"{reversal.reason}", now=now)
    return reversal


# --- Returns ---------------------------------------------------------------------------------

def sold_batch(order, line):
    """The batch the line's goods were issued from (the latest), for a return."""
    return db.session.scalar(
        select(inv.Batch).join(inv.StockMove, inv.StockMove.batch_id == inv.Batch.id)
        .where(inv.StockMove.document_type == DOCUMENT, inv.StockMove.document_id == order.id,
               inv.StockMove.product_id == line.product_id,
               inv.StockMove.reason == "sale_issue")
        .order_by(inv.StockMove.id.desc()).limit(1))


# --- The daily close -------------------------------------------------------------------------

@dataclass(frozen=True)
class CashierDay:
    """A cashier's day on the close screen: its sessions (closed, some perhaps reopened), the
    entries of its open session still to close, their totals by method, the next number."""
    cashier: User
    sessions: list
    open_entries: list
    open_summary: dict
    next_session: int


def summarise(entries):
    """{method: {"received", "refunded", "net"}} of ledger entries."""
    by_method = {}
    for entry in entries:
        row = by_method.setdefault(entry.method, {"received": 0, "refunded": 0, "net": 0})
        row["received" if entry.amount > 0 else "refunded"] += abs(entry.amount)
        row["net"] += entry.amount
    return by_method


def _of_day(cashier, day):
    start, end = day_bounds(day)
    return (Payment.cashier_id == cashier.id, Payment.at >= start, Payment.at < end)


def day_summary(cashier, day):
    """The totals by method of a cashier's whole day from the ledger (every session), and the
    entries themselves."""
    entries = db.session.scalars(select(Payment).where(*_of_day(cashier, day))
                                 .order_by(Payment.at, Payment.id)).all()
    return summarise(entries), entries


def sessions_of_day(cashier, day):
    """The closes of a cashier's day, reopened ones too, by session number."""
    return db.session.scalars(select(CashClose).where(
        CashClose.cashier_id == cashier.id, CashClose.day == day)
        .order_by(CashClose.session)).all()


def open_entries(cashier, day, *, now=None):
    """The day's open session: the cashier's entries of `day` (recorded by `now`, when given)
    that no standing — not reopened — close covers."""
    covered = (select(CashClosePayment.payment_id)
               .join(CashClose, CashClose.id == CashClosePayment.close_id)
               .where(CashClose.cashier_id == cashier.id, CashClose.day == day,
                      CashClose.reopened_at.is_(None)))
    query = select(Payment).where(*_of_day(cashier, day), Payment.id.not_in(covered))
    if now is not None:
        query = query.where(Payment.recorded_at <= now)
    return db.session.scalars(query.order_by(Payment.at, Payment.id)).all()


def cashiers_of_day(day):
    """A CashierDay for each user who took or paid out money on `day`, by name."""
    start, end = day_bounds(day)
    ids = select(Payment.cashier_id).where(Payment.at >= start, Payment.at < end).distinct()
    users = db.session.scalars(select(User).where(User.id.in_(ids))
                               .order_by(User.display_name)).all()
    days = []
    for user in users:
        sessions = sessions_of_day(user, day)
        entries = open_entries(user, day)
        days.append(CashierDay(user, sessions, entries, summarise(entries),
                               max((s.session for s in sessions), default=0) + 1))
    return days


def close_day(cashier, day, *, declared, actor, note="", now=None):
    """Close the open session of a cashier's day (日结 #n): the ledger's totals by method of the
    entries it covers beside what they counted. Refused when there is nothing new to cover."""
    _require(actor, CLOSE_ROLES, _("Only finance closes a day."))
    now = now or utcnow()
    if day > local_day(now):
        raise InvalidInput(_("A day in the future cannot be closed."), field="day")
    clean = {}
    for method, amount in (declared or {}).items():
        if method not in METHODS:
            raise InvalidInput(_("Unknown payment method."), field="declared")
        if isinstance(amount, bool) or not isinstance(amount, int) or \
                not -MAX_ORDER_FEN <= amount <= MAX_ORDER_FEN:
            raise InvalidInput(_("Enter what was counted for each method."),
                               field=f"declared-{method}")
        clean[method] = amount
    # The session number is read before the entries: a close committed in between then either
    # shows in the entries (covered, so left out) or takes the same number (the unique key
    # refuses this one) — an entry is never covered by two standing closes.
    session = (db.session.scalar(select(func.max(CashClose.session)).where(
        CashClose.cashier_id == cashier.id, CashClose.day == day)) or 0) + 1
    entries = open_entries(cashier, day, now=now)
    if not entries:
        raise Conflict(_("Nothing new to close: every entry of %(name)s's day %(day)s is in a "
                         "closed session.", name=cashier.display_name, day=day))
    expected = summarise(entries)
    record = CashClose(cashier_id=cashier.id, day=day, session=session, expected=expected,
                       declared=clean, expected_total=sum(row["net"] for row in expected.values()),
                       declared_total=sum(clean.values()), note=(note or "").strip()[:200],
                       closed_by_id=actor.id, closed_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(record)
    except IntegrityError:
        raise Conflict(_("%(name)s's session #%(session)s of %(day)s was just closed by "
                         "someone else. Reload the page.", name=cashier.display_name,
                         session=session, day=day)) from None
    db.session.add_all([CashClosePayment(close_id=record.id, payment_id=entry.id)
                        for entry in entries])
    db.session.flush()
    audit(actor, "cash.close", record, summary=_("%(name)s %(day)s #%(session)s: %(count)s "
                                                 "entries, expected %(expected)s, counted "
                                                 "%(counted)s", name=cashier.display_name,
                                                 day=day, session=session, count=len(entries),
                                                 expected=fen(record.expected_total),
                                                 counted=fen(record.declared_total)), now=now)
    return record


def reopen_close(record, *, reason, actor, now=None):
    """Reopen a closed session (a manager, with a reason, audited): the close stays on record,
    marked reopened; its entries are back in the day's open session for the next close."""
    _require(actor, REOPEN_ROLES, _("Only a manager reopens a daily close."))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say why the close is reopened."), field="reason")
    record = db.session.scalar(select(CashClose).where(CashClose.id == record.id)
                               .with_for_update(of=CashClose)
                               .execution_options(populate_existing=True))
    if record is None:
        raise NotFound(_("Not found, or not yours to see."))
    if record.is_reopened:
        raise Conflict(_("Session #%(session)s of %(name)s's day %(day)s is already reopened.",
                         session=record.session, name=record.cashier.display_name,
                         day=record.day))
    now = now or utcnow()
    record.reopened_at, record.reopened_by_id = now, actor.id
    record.reopen_reason = reason[:200]
    db.session.flush()
    audit(actor, "cash.reopen", record, summary=_("%(name)s %(day)s #%(session)s reopened: "
                                                  "%(reason)s", name=record.cashier.display_name,
                                                  day=record.day, session=record.session,
                                                  reason=record.reopen_reason), now=now)
    return record

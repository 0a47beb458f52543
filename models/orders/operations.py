"""Orders, payments, refunds, returns, reversals, the daily close. The caller commits.

Every operation that moves money locks the order row first (SELECT … FOR UPDATE on PostgreSQL;
SQLite serialises writers) and checks the balance on what it read under the lock. Every one
that writes a ledger entry takes the form's one-time token: a repeat returns the first entry.
"""
from datetime import datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from extensions import db
from formatting import company_zone, fen, local_day
from models import custody, inventory as inv, points
from models.audit import audit
from models.base import (Conflict, InvalidInput, NotFound, PermissionDenied, add_once,
                         utcnow)
from models.orders.tables import (CHANNELS, METHODS, RECEIPT_KINDS, CashClose, Order,
                                  OrderLine, OrderReturn, Package, PackageItem, Payment)
from models.settings import get_setting

DOCUMENT = "orders"
MAX_ORDER_FEN = 100_000_000          # ¥1,000,000
MAX_LINES = 50
SELLER_ROLES = ("manager", "dept_head", "marketer")
CASHIER_ROLES = ("manager", "dept_head", "marketer", "finance")
APPROVER_ROLES = ("manager", "finance")
CLOSE_ROLES = ("manager", "finance")


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


def _refresh_balance(order):
    order.balance_due = order.total - order.returned_value - order.paid


def _check_amount(amount, field="amount"):
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput(_("Enter an amount above zero."), field=field)
    if amount > MAX_ORDER_FEN:
        raise InvalidInput(_("The amount is too large."), field=field)
    return amount


def _check_day_open(cashier, at):
    """Nothing is recorded on a cashier's day once finance has closed it."""
    day = local_day(at)
    if db.session.scalar(select(CashClose.id).where(CashClose.cashier_id == cashier.id,
                                                    CashClose.day == day)):
        raise Conflict(_("%(name)s's day %(day)s is closed: nothing more can be recorded on it.",
                         name=cashier.display_name, day=day), field="at")


def _when(at, now):
    """The moment money changed hands: now, or an earlier moment finance enters."""
    if at is None:
        return now
    if at > now + timedelta(minutes=5):
        raise InvalidInput(_("A payment cannot be dated in the future."), field="at")
    if at < now - timedelta(days=366):
        raise InvalidInput(_("A payment more than a year old cannot be entered."), field="at")
    return at


def _token_entry(model, token, order):
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


# --- Orders ----------------------------------------------------------------------------------

def _clean_lines(lines):
    cleaned = []
    for index, line in enumerate(lines):
        product = line.get("product")
        field = f"lines-{index}"
        if product is None:
            raise InvalidInput(_("Line %(n)s: choose a product.", n=index + 1),
                               field=f"{field}-product")
        if not product.for_sale or not product.is_active:
            raise InvalidInput(_("%(name)s is not for sale.", name=product.name),
                               field=f"{field}-product")
        quantity = inv.check_quantity(line.get("quantity"), f"{field}-quantity")
        unit_price = line.get("unit_price")
        unit_price = product.sale_price if unit_price is None else unit_price
        if isinstance(unit_price, bool) or not isinstance(unit_price, int) or \
                not 0 <= unit_price <= MAX_ORDER_FEN:
            raise InvalidInput(_("Line %(n)s: the unit price must be between ¥0 and "
                                 "¥1,000,000.", n=index + 1), field=f"{field}-unit_price")
        discount = line.get("discount") or 0
        if isinstance(discount, bool) or not isinstance(discount, int) or discount < 0:
            raise InvalidInput(_("Line %(n)s: the discount cannot be negative.", n=index + 1),
                               field=f"{field}-discount")
        if discount > quantity * unit_price:
            raise InvalidInput(_("Line %(n)s: the discount %(discount)s is above the line's "
                                 "price %(price)s.", n=index + 1, discount=fen(discount),
                                 price=fen(quantity * unit_price)), field=f"{field}-discount")
        held = line.get("held")
        held = quantity if held is True else (held or 0)
        if not 0 <= held <= quantity:
            raise InvalidInput(_("Line %(n)s: at most the quantity sold can be left in "
                                 "custody.", n=index + 1), field=f"{field}-held")
        cleaned.append({"product": product, "quantity": quantity, "unit_price": unit_price,
                        "discount": discount, "held": held, "package": line.get("package")})
    return cleaned


def create_order(customer, *, lines, actor, token, warehouse, marketer=None, channel="event",
                 event=None, due_date=None, note="", now=None):
    """A deal: lines taken home now (a sale-issue move each) or left in custody. The marketer
    credited is the customer's owner unless another is named."""
    _require(actor, SELLER_ROLES, _("Only marketers, department heads and managers take "
                                    "orders."))
    if token and (prior := Order.by_token(token)) is not None:
        return prior
    now = now or utcnow()
    inv.stock._check_warehouse(warehouse)
    if channel not in CHANNELS:
        raise InvalidInput(_("Choose where the deal was made."), field="channel")
    if channel == "event" and event is None:
        raise InvalidInput(_("Choose the event the deal was made at."), field="event_id")
    if event is not None and event.status in ("cancelled", "planning"):
        raise Conflict(_("The event %(title)s is not on.", title=event.title), field="event_id")
    marketer = marketer or customer.owner or actor
    if not marketer.is_active or not marketer.has_role("marketer", "dept_head", "manager"):
        raise InvalidInput(_("Credit the deal to an active marketer."), field="marketer_id")
    if not lines:
        raise InvalidInput(_("Add a package or a product to the order."), field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidInput(_("At most %(n)s lines on one order.", n=MAX_LINES), field="lines")
    cleaned = _clean_lines(lines)
    total = sum(line["quantity"] * line["unit_price"] - line["discount"] for line in cleaned)
    if total <= 0:
        raise InvalidInput(_("The order comes to nothing: check prices and discounts."),
                           field="lines")
    if total > MAX_ORDER_FEN:
        raise InvalidInput(_("An order of more than ¥1,000,000 cannot be entered."),
                           field="lines")
    today = local_day(now)
    if due_date is None:
        due_date = today + timedelta(days=get_setting("orders.due_days"))
    elif not today <= due_date <= today + timedelta(days=3 * 366):
        raise InvalidInput(_("The due date must be from today to three years ahead."),
                           field="due_date")
    check_in = None
    if event is not None:
        from models.checkin import CheckIn
        check_in = db.session.scalar(select(CheckIn).where(CheckIn.event_id == event.id,
                                                           CheckIn.customer_id == customer.id))
    from models.orders.safeguards import confirmation_needed
    reason = confirmation_needed(customer, total, now)
    order = Order(customer_id=customer.id, marketer_id=marketer.id,
                  department_id=marketer.department_id, channel=channel,
                  event_id=event.id if event else None,
                  check_in_id=check_in.id if check_in else None, warehouse_id=warehouse.id,
                  total=total, paid=0, returned_value=0, balance_due=total, due_date=due_date,
                  note=(note or "").strip()[:1000], created_by_id=actor.id, created_at=now,
                  confirmation="pending" if reason else "", confirmation_reason=reason[:200],
                  token=token or None)
    order, new = add_once(order)
    if not new:  # the same form, sent at the same moment, was written first
        return order
    order.number = f"XS{today:%Y%m%d}-{order.id:05d}"
    for line in cleaned:
        product = line["product"]
        db.session.add(OrderLine(order_id=order.id, product_id=product.id,
                                 package_id=line["package"].id if line["package"] else None,
                                 quantity=line["quantity"], unit_price=line["unit_price"],
                                 discount=line["discount"], taken=line["quantity"] - line["held"],
                                 held=line["held"], product=product))
    db.session.flush()
    db.session.refresh(order, ["lines"])
    if reason:  # a large order hands nothing over until it is confirmed: only a trial now,
        # so that missing stock is said at the table, not at the confirmation
        savepoint = db.session.begin_nested()
        try:
            hand_over(order, actor=actor, now=now, reward=False)
        finally:
            savepoint.rollback()
    else:
        hand_over(order, actor=actor, now=now)
    audit(actor, "order.create", order, summary=f"{order.number} {customer.name} {fen(total)}",
          now=now)
    return order


def hand_over(order, *, actor, now, reward=True):
    """The goods of a binding order: taken home (a sale-issue move each, FEFO) or left in the
    company's custody; then the referral reward for a first purchase."""
    for index, line in enumerate(order.lines):
        try:
            if line.held:
                custody.deposit(order, line, actor=actor, now=now)
            if line.taken:
                inv.issue(product=line.product, quantity=line.taken, warehouse=order.warehouse,
                          reason="sale_issue", actor=actor, customer=order.customer,
                          event=order.event, document=(DOCUMENT, order.id), note=order.number,
                          now=now)
        except (Conflict, InvalidInput) as exc:
            exc.message = _("Line %(n)s: %(message)s", n=index + 1, message=exc.message)
            exc.field = f"lines-{index}-quantity"
            raise
    db.session.flush()
    if reward:
        points.reward_referral(order.customer, trigger="buy", actor=actor, event=order.event,
                               warehouse=order.warehouse, now=now)


def _refuse_pending(order):
    if order.is_pending:
        raise Conflict(_("Order %(number)s is a large order waiting for a department head's "
                         "or manager's confirmation: nothing can be paid or handed over yet.",
                         number=order.number))


def cancel_order(order, *, reason, actor, now=None):
    """Cancel a deal while nothing is paid and no goods have left."""
    order = lock_order(order)
    if order.status == "cancelled":
        raise Conflict(_("Order %(number)s is already cancelled.", number=order.number))
    if not (reason or "").strip():
        raise InvalidInput(_("Say why the order is cancelled."), field="reason")
    if db.session.scalar(select(func.count(Payment.id)).where(Payment.order_id == order.id)):
        raise Conflict(_("Money has been received on %(number)s: refund and return instead of "
                         "cancelling.", number=order.number))
    if not order.is_pending and any(line.taken for line in order.lines):
        raise Conflict(_("Goods of %(number)s have been handed over: take them back as a "
                         "return instead of cancelling.", number=order.number))
    now = now or utcnow()
    for line in order.lines:  # goods left in custody go back on the free shelf
        if (held := held_left(line)):
            custody.return_out(order, line, held, actor=actor, now=now)
    order.status, order.cancelled_by_id, order.cancelled_at = "cancelled", actor.id, now
    order.cancel_reason = reason.strip()[:200]
    order.balance_due = 0
    db.session.flush()
    audit(actor, "order.cancel", order, summary=f"{order.number}: {order.cancel_reason}",
          now=now)
    return order


# --- Money -----------------------------------------------------------------------------------

def receive_payment(order, *, amount, method, actor, token, kind=None, reference="", at=None,
                    now=None):
    """Money received against an order: a deposit, a balance payment or the full amount. Never
    more than is due."""
    _require(actor, CASHIER_ROLES, _("You may not take payments."))
    order = lock_order(order)
    if (prior := _token_entry(Payment, token, order)) is not None:
        return prior
    now = now or utcnow()
    _check_amount(amount)
    if method not in METHODS:
        raise InvalidInput(_("Choose how the money was paid."), field="method")
    if order.status == "cancelled":
        raise Conflict(_("Order %(number)s is cancelled: no payment can be taken on it.",
                         number=order.number))
    _refuse_pending(order)
    due = order.balance_due
    if due <= 0:
        raise Conflict(_("Order %(number)s is paid in full.", number=order.number),
                       field="amount")
    if amount > due:
        raise Conflict(_("Only %(due)s is due on %(number)s; %(amount)s is too much.",
                         due=fen(due), number=order.number, amount=fen(amount)), field="amount")
    at = _when(at, now)
    _check_day_open(actor, at)
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
    _refresh_balance(order)
    db.session.flush()
    points.earn_on_payment(order, payment, actor=actor, now=now)
    audit(actor, "payment.receive", order, summary=f"{order.number} {fen(amount)} "
          f"{METHODS[method]}", now=now)
    return payment


def refund(order, *, amount, method, reason, actor, approver, token, order_return=None,
           at=None, now=None):
    """Money paid back to the customer, approved by a manager or a finance clerk; never more
    than was paid."""
    _require(actor, APPROVER_ROLES, _("Refunds are paid out by finance or a manager."))
    if approver is None or not approver.is_active or not approver.has_role(*APPROVER_ROLES):
        raise PermissionDenied(_("A refund must be approved by a manager or a finance clerk."))
    order = lock_order(order)
    if (prior := _token_entry(Payment, token, order)) is not None:
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
    at = _when(at, now)
    from models.orders.safeguards import check_refund_approval
    check_refund_approval(order, actor=actor, approver=approver, at=at)
    _check_day_open(actor, at)
    payment = Payment(order_id=order.id, kind="refund", method=method, amount=-amount,
                      reason=reason.strip()[:200], cashier_id=actor.id,
                      approved_by_id=approver.id, at=at, recorded_at=now,
                      return_id=order_return.id if order_return else None, token=token or None)
    payment, new = add_once(payment)
    if not new:
        return payment
    order.paid -= amount
    _refresh_balance(order)
    db.session.flush()
    points.take_back_on_refund(order, payment, actor=actor, now=now)
    audit(actor, "payment.refund", order, summary=f"{order.number} −{fen(amount)}: "
          f"{payment.reason}", now=now)
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
    _check_day_open(actor, now)
    reversal = Payment(order_id=order.id, kind="reversal", method=payment.method,
                       amount=-payment.amount, reason=reason.strip()[:200],
                       cashier_id=actor.id, at=now, recorded_at=now, reverses_id=payment.id)
    db.session.add(reversal)
    order.paid = paid
    _refresh_balance(order)
    db.session.flush()
    if reversal.amount < 0:  # a receipt undone: the points it earned go back
        points.take_back_on_refund(order, reversal, actor=actor, now=now)
    else:  # a refund undone: the points come back
        points.earn_on_payment(order, reversal, actor=actor, now=now)
    audit(actor, "payment.reverse", order, summary=f"{order.number} #{payment.id}: "
          f"{reversal.reason}", now=now)
    return reversal


# --- Returns ---------------------------------------------------------------------------------

def held_left(line):
    """Units of the line still in the company's custody (left, not collected, not returned)."""
    return custody.line_held(line.id)


def sold_batch(order, line):
    """The batch the line's goods were issued from (the latest), for a return."""
    return db.session.scalar(
        select(inv.Batch).join(inv.StockMove, inv.StockMove.batch_id == inv.Batch.id)
        .where(inv.StockMove.document_type == DOCUMENT, inv.StockMove.document_id == order.id,
               inv.StockMove.product_id == line.product_id,
               inv.StockMove.reason == "sale_issue")
        .order_by(inv.StockMove.id.desc()).limit(1))


def return_goods(order, line, *, quantity, reason, approver, actor, token, disposition="restock",
                 warehouse=None, batch=None, now=None):
    """Goods of an order line brought back (退货), approved by a manager or finance clerk. Units
    still in custody come off the custody first (nothing to move); goods taken home go back
    into a warehouse and batch, or to scrap. Lowers what the order is worth; money goes back
    with `refund`."""
    if approver is None or not approver.is_active or not approver.has_role(*APPROVER_ROLES):
        raise PermissionDenied(_("A return must be approved by a manager or a finance clerk."))
    order = lock_order(order)
    if (prior := _token_entry(OrderReturn, token, order)) is not None:
        return prior
    if line.order_id != order.id:
        raise NotFound(_("That line is not on this order."))
    if order.status == "cancelled":
        raise Conflict(_("Order %(number)s is cancelled.", number=order.number))
    _refuse_pending(order)
    inv.check_quantity(quantity)
    if quantity > line.quantity - line.returned:
        raise Conflict(_("Only %(n)s of %(name)s can still be returned on this order.",
                         n=line.quantity - line.returned, name=line.product.name),
                       field="quantity")
    if not (reason or "").strip():
        raise InvalidInput(_("Say why the goods are returned."), field="reason")
    if disposition not in ("restock", "scrap"):
        raise InvalidInput(_("Choose where the goods go."), field="disposition")
    now = now or utcnow()
    from_held = min(quantity, held_left(line))
    if from_held:
        custody.return_out(order, line, from_held, actor=actor, disposition=disposition,
                           now=now)
    from_taken = quantity - from_held
    if from_taken:
        batch = batch or sold_batch(order, line)
        if batch is None:
            raise InvalidInput(_("Choose the batch the goods came from."), field="batch_id")
        warehouse = warehouse or order.warehouse
        inv.take_back(product=line.product, batch=batch, quantity=from_taken,
                      warehouse=warehouse, actor=actor, customer=order.customer,
                      event=order.event, document=(DOCUMENT, order.id), note=order.number,
                      into="scrap" if disposition == "scrap" else "stock", now=now)
    # The value of the goods returned: their share of the line's amount; the last unit takes
    # the rounding so that returning everything returns the whole amount.
    value = line.amount * (line.returned + quantity) // line.quantity - \
        line.amount * line.returned // line.quantity
    record = OrderReturn(order_id=order.id, line_id=line.id, quantity=quantity,
                         from_held=from_held, disposition=disposition,
                         warehouse_id=warehouse.id if from_taken and warehouse else None,
                         batch_id=batch.id if from_taken and batch else None, value=value,
                         reason=reason.strip()[:200], approved_by_id=approver.id,
                         created_by_id=actor.id, at=now, token=token or None)
    db.session.add(record)
    line.returned += quantity
    order.returned_value += value
    _refresh_balance(order)
    db.session.flush()
    from models.gifts import after_return
    after_return(order, actor=actor, now=now)  # gifts the order no longer earns come back
    audit(actor, "order.return", order, summary=f"{order.number} {line.product.name} "
          f"×{quantity} {fen(value)}: {record.reason}", now=now)
    return record


# --- The daily close -------------------------------------------------------------------------

def _day_bounds(day):
    start = datetime.combine(day, time(0), tzinfo=company_zone())
    return start, start + timedelta(days=1)


def day_summary(cashier, day):
    """{method: {"received", "refunded", "net"}} of a cashier's day from the ledger, and the
    entries themselves."""
    start, end = _day_bounds(day)
    entries = db.session.scalars(select(Payment).where(
        Payment.cashier_id == cashier.id, Payment.at >= start, Payment.at < end)
        .order_by(Payment.at, Payment.id)).all()
    by_method = {}
    for entry in entries:
        row = by_method.setdefault(entry.method, {"received": 0, "refunded": 0, "net": 0})
        row["received" if entry.amount > 0 else "refunded"] += abs(entry.amount)
        row["net"] += entry.amount
    return by_method, entries


def cashiers_of_day(day):
    """Users who took or paid out money on `day`, with whether their day is closed."""
    from models.accounts import User
    start, end = _day_bounds(day)
    ids = select(Payment.cashier_id).where(Payment.at >= start, Payment.at < end).distinct()
    users = db.session.scalars(select(User).where(User.id.in_(ids))
                               .order_by(User.display_name)).all()
    closed = {c.cashier_id: c for c in db.session.scalars(
        select(CashClose).where(CashClose.day == day))}
    return [(user, closed.get(user.id)) for user in users]


def close_day(cashier, day, *, declared, actor, note="", now=None):
    """Close a cashier's day: the ledger's totals by method beside what they counted."""
    _require(actor, CLOSE_ROLES, _("Only finance closes a day."))
    now = now or utcnow()
    if day > local_day(now):
        raise InvalidInput(_("A day in the future cannot be closed."), field="day")
    if db.session.scalar(select(CashClose.id).where(CashClose.cashier_id == cashier.id,
                                                    CashClose.day == day)):
        raise Conflict(_("%(name)s's day %(day)s is already closed.",
                       name=cashier.display_name, day=day))
    clean = {}
    for method, amount in (declared or {}).items():
        if method not in METHODS:
            raise InvalidInput(_("Unknown payment method."), field="declared")
        if isinstance(amount, bool) or not isinstance(amount, int) or \
                not -MAX_ORDER_FEN <= amount <= MAX_ORDER_FEN:
            raise InvalidInput(_("Enter what was counted for each method."),
                               field=f"declared-{method}")
        clean[method] = amount
    expected, _entries = day_summary(cashier, day)
    record = CashClose(cashier_id=cashier.id, day=day, expected=expected, declared=clean,
                       expected_total=sum(row["net"] for row in expected.values()),
                       declared_total=sum(clean.values()), note=(note or "").strip()[:200],
                       closed_by_id=actor.id, closed_at=now)
    db.session.add(record)
    db.session.flush()
    audit(actor, "cash.close", record, summary=_("%(name)s %(day)s: expected %(expected)s, "
                                                 "counted %(counted)s",
                                                 name=cashier.display_name, day=day,
                                                 expected=fen(record.expected_total),
                                                 counted=fen(record.declared_total)), now=now)
    return record

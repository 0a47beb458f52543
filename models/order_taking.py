"""Order taking (成交): a deal and its goods — taken home now (a sale-issue move each) or left in
the company's custody — a large order's confirmation, cancelling, and goods brought back, with
the purchase gifts a return takes back and the referral reward a first purchase earns.

A workflow over the ledgers of orders, stock, custody, gifts, tasks and referrals (DESIGN §3
Layers, 4), one transaction each; the caller commits. The order's own ledger — payments,
refunds, reversals, the daily close — is the orders area's (models/orders).
"""
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from extensions import db
from formatting import fen
from models import custody, gifts, inventory as inv, referrals, tasks
from models.audit import audit
from models.base import Conflict, InvalidInput, NotFound, PermissionDenied, add_once, utcnow
from models.accounts import User
from models.checkin import CheckIn
from models.events import Event, Invitation
from models.clock import document_number, local_day
from models.customers import touch_last_contact
from models.orders import (APPROVER_ROLES, CHANNELS, DOCUMENT, MAX_LINES, MAX_ORDER_FEN,
                           SELLER_ROLES, Order, OrderLine, OrderReturn, Payment, entry_by_token,
                           lock_order, receive_payment, refresh_balance, refuse_pending,
                           sold_batch)
from models.orders import pricing
from models.orders.safeguards import (CONFIRMER_ROLES, MAX_PIN_FAILURES, WrongPin, check_pin,
                                      confirmation_needed, may_confirm, pin_failures)
from models.scoping import visible_users
from models.settings import get_setting


# --- Orders ----------------------------------------------------------------------------------

#: Roles a deal can be credited to.
CREDITED_ROLES = ("marketer", "dept_head", "manager")


def events_for_order(customer, actor):
    """The events a deal with `customer` may be credited to: those on now or open for
    invitations that the customer was invited to (any such event, for a manager), the latest
    first."""
    query = select(Event).where(Event.status.in_(("open", "in_progress")))
    if not actor.has_role("manager"):
        query = query.where(Event.id.in_(select(Invitation.event_id).where(
            Invitation.customer_id == customer.id)))
    return db.session.scalars(query.order_by(Event.starts_at.desc()).limit(20)).all()


def may_credit_event(customer, event, actor):
    """Whether a deal with `customer` may be booked to `event`: the customer was invited to it
    (a walk-in is too), or a manager books it. Which events the form offers is
    events_for_order: those on now or open for invitations."""
    if actor.has_role("manager"):
        return True
    return db.session.scalar(select(Invitation.id).where(
        Invitation.event_id == event.id, Invitation.customer_id == customer.id)) is not None


def event_attended_today(customer, events, now=None):
    """Of `events`, the one the customer was checked in at today (company day), if any: the
    event a deal at the table is made at."""
    if not events:
        return None
    today = local_day(now or utcnow())
    arrivals = db.session.execute(select(CheckIn.event_id, CheckIn.at).where(
        CheckIn.customer_id == customer.id,
        CheckIn.event_id.in_([event.id for event in events]))).all()
    seen = {event_id for event_id, at in arrivals if local_day(at) == today}
    return next((event for event in events if event.id in seen), None)


def marketers_for_order(customer, actor):
    """Whom a deal may be credited to: the active marketers, heads and managers the actor may
    list, with the customer's owner and the actor first."""
    users = [u for u in db.session.scalars(visible_users(actor).order_by(User.display_name))
             if u.is_active and u.has_role(*CREDITED_ROLES)]
    for person in (customer.owner, actor):
        if person is not None and person not in users and person.has_role(*CREDITED_ROLES):
            users.insert(0, person)
    return users

def _clean_lines(lines, customer):
    """Checked lines; a unit price not given is the customer's price (their grade's, or the
    list price: orders.pricing)."""
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
        unit_price = pricing.grade_price(product, customer) if unit_price is None else unit_price
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
                 event=None, due_date=None, note="", confirm_below_promise=False, now=None):
    """A deal: lines taken home now (a sale-issue move each) or left in custody. The marketer
    credited is the customer's owner unless another is named. From a pooled warehouse, goods
    taken home that leave less on hand than customers are promised need
    `confirm_below_promise` (inventory.BelowPromise)."""
    if not actor.has_role(*SELLER_ROLES):
        raise PermissionDenied(_("Only marketers, department heads and managers take orders."))
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
    if event is not None and not may_credit_event(customer, event, actor):
        raise InvalidInput(_("%(name)s was not invited to %(title)s: choose an event they were "
                             "invited to.", name=customer.name, title=event.title),
                           field="event_id")
    marketer = marketer or customer.owner or actor
    if not marketer.is_active or not marketer.has_role(*CREDITED_ROLES):
        raise InvalidInput(_("Credit the deal to an active marketer."), field="marketer_id")
    if marketer not in marketers_for_order(customer, actor):
        raise InvalidInput(_("You may not credit a deal to %(name)s.",
                                 name=marketer.display_name), field="marketer_id")
    if not lines:
        raise InvalidInput(_("Add a package or a product to the order."), field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidInput(_("At most %(n)s lines on one order.", n=MAX_LINES), field="lines")
    cleaned = _clean_lines(lines, customer)
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
        check_in = db.session.scalar(select(CheckIn).where(CheckIn.event_id == event.id,
                                                           CheckIn.customer_id == customer.id))
    reason = confirmation_needed(customer, total, now)
    price_reason, below_floor, discount_needed = pricing.review(cleaned, customer, actor)
    order = Order(customer_id=customer.id, marketer_id=marketer.id,
                  department_id=marketer.department_id, channel=channel,
                  event_id=event.id if event else None,
                  check_in_id=check_in.id if check_in else None, warehouse_id=warehouse.id,
                  total=total, paid=0, returned_value=0, balance_due=total, due_date=due_date,
                  note=(note or "").strip()[:1000], created_by_id=actor.id, created_at=now,
                  confirmation="pending" if reason or price_reason else "",
                  confirmation_reason=reason[:200], price_reason=price_reason[:300],
                  below_floor=below_floor, discount_needed=discount_needed,
                  list_total=sum(line["product"].sale_price * line["quantity"]
                                 for line in cleaned),
                  token=token or None)
    order, new = add_once(order)
    if not new:  # the same form, sent at the same moment, was written first
        return order
    order.number = document_number("XS", now, order.id)
    touch_last_contact(customer.id, now)
    for line in cleaned:
        product = line["product"]
        db.session.add(OrderLine(order_id=order.id, product_id=product.id,
                                 package_id=line["package"].id if line["package"] else None,
                                 quantity=line["quantity"], unit_price=line["unit_price"],
                                 list_price=product.sale_price, discount=line["discount"], taken=line["quantity"] - line["held"],
                                 held=line["held"], product=product))
    db.session.flush()
    db.session.refresh(order, ["lines"])
    if order.is_pending:  # nothing is handed over until it is confirmed: only a trial now,
        # so that missing stock is said at the table, not at the confirmation
        savepoint = db.session.begin_nested()
        try:
            hand_over(order, actor=actor, now=now, reward=False,
                      confirm_below_promise=confirm_below_promise)
        finally:
            savepoint.rollback()
    else:
        hand_over(order, actor=actor, now=now, confirm_below_promise=confirm_below_promise)
    audit(actor, "order.create", order, summary=f"{order.number} {customer.name} {fen(total)}"
          + (f" {price_reason}" if price_reason else ""), now=now)
    return order


def take_order(customer, *, deposit=0, deposit_method="cash", deposit_reference="",
               payment_token=None, **order_fields):
    """A deal and its deposit, one transaction: create_order(**order_fields), then the deposit
    as its first payment. A large order takes no deposit until it is confirmed. Returns
    (order, deposit deferred: whether a deposit was asked for and not taken)."""
    order = create_order(customer, **order_fields)
    if not deposit:
        return order, False
    if order.is_pending:
        return order, True
    receive_payment(order, amount=deposit, method=deposit_method, reference=deposit_reference,
                    actor=order_fields["actor"], token=payment_token)
    return order, False


def hand_over(order, *, actor, now, reward=True, confirm_below_promise=False):
    """The goods of a binding order: taken home (a sale-issue move each, FEFO) or left in the
    company's custody; then the referral reward for a first purchase. Goods left in a pooled
    warehouse's custody move nothing: the line keeps what they count at in the cost of goods
    sold, the product's standard cost now (models.orders.cogs)."""
    for index, line in enumerate(order.lines):
        try:
            if line.held:
                custody.deposit(order, line, actor=actor, now=now)
                if custody.is_pooled(order.warehouse):
                    line.held_unit_cost = line.product.standard_cost
            if line.taken:
                inv.issue(product=line.product, quantity=line.taken, warehouse=order.warehouse,
                          reason="sale_issue", actor=actor, customer=order.customer,
                          event=order.event, document=(DOCUMENT, order.id), note=order.number,
                          confirm_below_promise=confirm_below_promise, now=now)
        except (Conflict, InvalidInput) as exc:
            exc.message = _("Line %(n)s: %(message)s", n=index + 1, message=exc.message)
            if not isinstance(exc, inv.BelowPromise):  # that one asks for the confirmation
                exc.field = f"lines-{index}-quantity"
            raise
    db.session.flush()
    if reward:
        referrals.reward_referral(order.customer, trigger="buy", actor=actor,
                                  event=order.event, warehouse=order.warehouse, now=now)


def cancel_order(order, *, reason, actor, now=None):
    """Cancel a deal while nothing is paid and no goods have left; goods left in custody go
    back on the shelf and its purchase gifts come back (gifts.after_return)."""
    order = lock_order(order)
    if order.status == "cancelled":
        raise Conflict(_("Order %(number)s is already cancelled.", number=order.number))
    if order.status == "opening":
        raise Conflict(_("%(number)s is a debt brought from the old system: roll back its "
                         "import (期初数据) instead of cancelling it.", number=order.number))
    if not (reason or "").strip():
        raise InvalidInput(_("Say why the order is cancelled."), field="reason")
    if db.session.scalar(select(func.count(Payment.id)).where(Payment.order_id == order.id)):
        raise Conflict(_("Money has been received on %(number)s: refund and return instead of "
                         "cancelling.", number=order.number))
    collected = custody.line_figures(custody.CustodyEntry.order_line_id.in_(
        [line.id for line in order.lines]))  # goods left with us and collected since
    if not order.is_pending and (any(line.taken for line in order.lines) or
                                 any(figure.collected for figure in collected.values())):
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
    gifts.after_return(order, actor=actor, now=now)  # its purchase gifts come back with it
    audit(actor, "order.cancel", order, summary=f"{order.number}: {order.cancel_reason}",
          now=now)
    return order


# --- Returns ---------------------------------------------------------------------------------

def held_left(line):
    """Units of the line still in the company's custody (left, not collected, not returned)."""
    return custody.line_held(line.id)


def return_goods(order, line, *, quantity, reason, approver, actor, token, disposition="restock",
                 warehouse=None, batch=None, now=None):
    """Goods of an order line brought back (退货), approved by a manager or finance clerk. Units
    still in custody come off the custody first (nothing to move); goods taken home go back
    into a warehouse and batch, or to scrap. Lowers what the order is worth; money goes back
    with `refund`."""
    if approver is None or not approver.is_active or not approver.has_role(*APPROVER_ROLES):
        raise PermissionDenied(_("A return must be approved by a manager or a finance clerk."))
    order = lock_order(order)
    if (prior := entry_by_token(OrderReturn, token, order)) is not None:
        return prior
    if line.order_id != order.id:
        raise NotFound(_("That line is not on this order."))
    if order.status == "cancelled":
        raise Conflict(_("Order %(number)s is cancelled.", number=order.number))
    refuse_pending(order)
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
    refresh_balance(order)
    db.session.flush()
    gifts.after_return(order, actor=actor, now=now)  # gifts the order no longer earns come back
    audit(actor, "order.return", order, summary=f"{order.number} {line.product.name} "
          f"×{quantity} {fen(value)}: {record.reason}", now=now)
    return record


# --- Large orders ----------------------------------------------------------------------------

def confirm_order(order, *, confirmer, actor, pin=None, family_informed=False,
                  confirm_below_promise=False, now=None):
    """The second confirmation of a large order. `confirmer` confirms on their own device
    (confirmer is actor) or types their PIN on the actor's tablet. Hands the goods over, writes
    the next-day confirmation call (for the confirmer, not the marketer), and makes it binding."""
    now = now or utcnow()
    order = lock_order(order)
    if order.status != "open":
        raise Conflict(_("Order %(number)s is cancelled.", number=order.number))
    if order.confirmation != "pending":
        raise Conflict(_("Order %(number)s does not need a confirmation, or has one already.",
                         number=order.number))
    if confirmer is None or not confirmer.is_active or \
            not confirmer.has_role(*CONFIRMER_ROLES):
        raise PermissionDenied(_("Only a department head or a manager confirms an order or "
                                 "approves its prices."))
    if confirmer.id == order.marketer_id:
        raise PermissionDenied(_("The marketer credited cannot confirm their own order: ask "
                                 "another department head or a manager."))
    if not may_confirm(confirmer, order):
        raise PermissionDenied(_("%(name)s is not the head of this order's department.",
                                 name=confirmer.display_name))
    if not pricing.may_approve(confirmer, order):
        raise PermissionDenied(_("%(pct)s %% off the list price is beyond what %(name)s may "
                                 "approve: a manager approves it.", pct=order.discount_needed,
                                 name=confirmer.display_name))
    if confirmer.id != actor.id:
        if not confirmer.pin_hash:
            raise PermissionDenied(_("%(name)s has not set a PIN yet (under 'My PIN').",
                                     name=confirmer.display_name))
        if pin_failures(confirmer, now) >= MAX_PIN_FAILURES:
            raise PermissionDenied(_("Too many wrong PINs for %(name)s: wait a quarter of an "
                                     "hour, or confirm on their own device.",
                                     name=confirmer.display_name))
        if not check_pin(confirmer, pin):
            raise WrongPin(_("The PIN is not right."), confirmer=confirmer)
    customer = order.customer
    if get_setting("orders.large_needs_family"):
        if not (customer.family_name and customer.family_phone):
            raise Conflict(_("Record %(name)s's family contact on the customer's page first: "
                             "large orders need the family told.", name=customer.name))
        if not family_informed:
            raise InvalidInput(_("Confirm that the family contact was told of this order."),
                               field="family_informed")
    hand_over(order, actor=actor, now=now, confirm_below_promise=confirm_below_promise)
    order.confirmation, order.confirmed_by_id, order.confirmed_at = \
        "confirmed", confirmer.id, now
    order.family_informed = bool(family_informed)
    db.session.flush()
    if order.price_reason:
        audit(actor, "order.price_approve", order, summary=_(
            "%(number)s: %(discount)s off the list price (%(pct)s %%), asked by %(asker)s, "
            "approved by %(name)s", number=order.number, discount=fen(order.discount_given),
            pct=order.discount_needed, asker=order.created_by.display_name,
            name=confirmer.display_name), now=now)
    if not order.confirmation_reason:  # a price approval only: no confirmation call
        audit(actor, "order.confirm", order, summary=_("%(number)s confirmed by %(name)s",
                                                       number=order.number,
                                                       name=confirmer.display_name), now=now)
        return order
    tasks.write_tasks([{
        "kind": "confirm_call", "customer_id": customer.id, "assignee_id": confirmer.id,
        "department_id": confirmer.department_id or order.department_id,
        "due_date": local_day(now) + timedelta(days=1), "source_key": f"order:{order.id}",
        "title": _("Confirmation call: %(name)s's order %(number)s of %(total)s",
                   name=customer.name, number=order.number, total=fen(order.total))[:120],
        "detail": order.confirmation_reason[:200]}], now=now)
    audit(actor, "order.confirm", order, summary=_("%(number)s confirmed by %(name)s",
                                                   number=order.number,
                                                   name=confirmer.display_name), now=now)
    return order

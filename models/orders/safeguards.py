"""Safeguards for selling to older customers (DESIGN §4 item 9).

- Cooling-off (冷静期): for N days after an order (a setting, the company's calendar days, the
  order's day + N inclusive) a refund is paid out by finance alone; after it, only a manager.
- Large orders: an order above a threshold, or one that takes the customer's spending of the
  last 30 days above another, is "pending" until a department head (of the order's department)
  or a manager other than the marketer confirms it — in person on their own device, or with
  their PIN on the marketer's tablet. Until then no money is taken and no goods leave.
  Confirming hands the goods over and writes a next-day confirmation call for the confirmer.
- Family contact: the confirmation can require that the customer's family contact was told.
"""
import re
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from formatting import fen, local_day
from models.audit import audit, register_actions
from models.base import Conflict, InvalidInput, PermissionDenied, utcnow
from models.orders.tables import Order
from models.scoping import department_subtree_ids
from models.settings import define, get_setting

CONFIRMER_ROLES = ("dept_head", "manager")
PIN = re.compile(r"^\d{4,8}$")
#: Wrong PINs for one confirmer within a quarter of an hour before the PIN stops working.
MAX_PIN_FAILURES = 5


class WrongPin(PermissionDenied):
    """A wrong PIN: the caller rolls back, then records it with `record_pin_failure` (so the
    count survives the rollback)."""

    def __init__(self, message, *, confirmer):
        super().__init__(message)
        self.confirmer = confirmer

define("orders.cooling_off_days", "int", 7, _l("Cooling-off period (days)"),
       _l("Within this many days of an order (the order's day plus these days) finance may "
          "refund without further approval; after it, a manager must."), min=0, max=90)
define("orders.large_order_yuan", "int", 20000, _l("Large order: above (yuan)"),
       _l("An order above this needs a department head's or manager's confirmation. "
          "0: no limit."), min=0, max=10_000_000)
define("orders.large_spend_30d_yuan", "int", 50000,
       _l("Large spending: customer's 30 days above (yuan)"),
       _l("An order that takes the customer's spending of the last 30 days above this needs "
          "the same confirmation. 0: no limit."), min=0, max=10_000_000)
define("orders.large_needs_family", "bool", False,
       _l("Large orders: the family contact must be told"),
       _l("The confirmer must record that the customer's family contact was informed."))
define("orders.service_phone", "str", "", _l("Customer service phone"),
       _l("Printed on the customer's order summary: whom to call."), max_length=30)

register_actions({"order.confirm": _l("Confirmed a large order"),
                  "order.pin_failed": _l("Typed a wrong confirmation PIN"),
                  "user.pin": _l("Set a confirmation PIN")})


# --- Cooling-off -----------------------------------------------------------------------------

def cooling_off_last_day(order):
    """The last day (company calendar) of the order's cooling-off period."""
    return local_day(order.created_at) + timedelta(days=get_setting("orders.cooling_off_days"))


def in_cooling_off(order, at):
    """Whether a refund at `at` falls within the order's cooling-off period."""
    return local_day(at) <= cooling_off_last_day(order)


def check_refund_approval(order, *, actor, approver, at):
    """Within the cooling-off period finance (or a manager) refunds alone; after it the refund
    must be approved by a manager."""
    if in_cooling_off(order, at) or approver.has_role("manager"):
        return
    raise PermissionDenied(_("The cooling-off period of %(number)s ended on %(day)s: a refund "
                             "now needs a manager's approval.", number=order.number,
                             day=cooling_off_last_day(order)))


# --- Large orders ----------------------------------------------------------------------------

def confirmation_needed(customer, total, now):
    """Why an order of `total` fen for `customer` needs a second confirmation, or ""."""
    limit = get_setting("orders.large_order_yuan") * 100
    if limit and total > limit:
        return _("The order of %(total)s is above %(limit)s.", total=fen(total),
                 limit=fen(limit))
    limit = get_setting("orders.large_spend_30d_yuan") * 100
    if limit:
        spent = db.session.scalar(select(func.coalesce(func.sum(Order.total), 0)).where(
            Order.customer_id == customer.id, Order.status == "open",
            Order.created_at >= now - timedelta(days=30))) or 0
        if spent + total > limit:
            return _("With this order the customer's spending in 30 days comes to %(sum)s, "
                     "above %(limit)s.", sum=fen(spent + total), limit=fen(limit))
    return ""


def may_confirm(user, order):
    """Whether `user` may confirm `order`: an active manager, or the head of its department (or
    one above it), and never the marketer credited."""
    if user is None or not user.is_active or user.id == order.marketer_id:
        return False
    if user.has_role("manager"):
        return True
    return user.has_role("dept_head") and order.department_id in \
        department_subtree_ids(user.department_id)


def confirmers_for(order, actor):
    """Who may confirm `order`: the actor first when they may, then the others (for the PIN)."""
    from models.accounts import User, UserRole
    users = db.session.scalars(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(User.is_active.is_(True), UserRole.role.in_(CONFIRMER_ROLES))
        .order_by(User.display_name).distinct()).all()
    allowed = [user for user in users if may_confirm(user, order)]
    return sorted(allowed, key=lambda user: user.id != actor.id)


def pin_failures(user, now):
    from models.audit import AuditEntry
    return db.session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "order.pin_failed", AuditEntry.target_type == "users",
        AuditEntry.target_id == user.id, AuditEntry.at >= now - timedelta(minutes=15)))


def record_pin_failure(exc, *, actor, order_number, now=None):
    audit(actor, "order.pin_failed", exc.confirmer, summary=order_number, now=now)


def check_pin(user, pin):
    return bool(user.pin_hash) and check_password_hash(user.pin_hash, pin or "")


def set_pin(user, *, pin, password, now=None):
    """A department head or manager sets the PIN they type on a marketer's tablet."""
    if not user.has_role(*CONFIRMER_ROLES):
        raise PermissionDenied(_("Only department heads and managers confirm large orders."))
    if not check_password_hash(user.password_hash, password or ""):
        raise InvalidInput(_("The password is not right."), field="password")
    if not PIN.match(pin or ""):
        raise InvalidInput(_("The PIN is 4 to 8 digits."), field="pin")
    method = current_app.config.get("PASSWORD_HASH_METHOD")
    user.pin_hash = generate_password_hash(pin, method=method) if method else \
        generate_password_hash(pin)
    db.session.flush()
    audit(user, "user.pin", user, summary=user.display_name, now=now)


def confirm_order(order, *, confirmer, actor, pin=None, family_informed=False, now=None):
    """The second confirmation of a large order. `confirmer` confirms on their own device
    (confirmer is actor) or types their PIN on the actor's tablet. Hands the goods over, writes
    the next-day confirmation call (for the confirmer, not the marketer), and makes it binding."""
    from models.orders.operations import hand_over, lock_order
    now = now or utcnow()
    order = lock_order(order)
    if order.status != "open":
        raise Conflict(_("Order %(number)s is cancelled.", number=order.number))
    if order.confirmation != "pending":
        raise Conflict(_("Order %(number)s does not need a confirmation, or has one already.",
                         number=order.number))
    if confirmer is None or not confirmer.is_active or \
            not confirmer.has_role(*CONFIRMER_ROLES):
        raise PermissionDenied(_("A large order is confirmed by a department head or a "
                                 "manager."))
    if confirmer.id == order.marketer_id:
        raise PermissionDenied(_("The marketer credited cannot confirm their own order: ask "
                                 "another department head or a manager."))
    if not may_confirm(confirmer, order):
        raise PermissionDenied(_("%(name)s is not the head of this order's department.",
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
    hand_over(order, actor=actor, now=now)
    order.confirmation, order.confirmed_by_id, order.confirmed_at = \
        "confirmed", confirmer.id, now
    order.family_informed = bool(family_informed)
    db.session.flush()
    from models.tasks import write_tasks
    write_tasks([{
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

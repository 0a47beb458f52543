"""Safeguards for selling to older customers (DESIGN §4 item 9).

- Cooling-off (冷静期): for N days after an order (a setting, the company's calendar days, the
  order's day + N inclusive) a refund is paid out by finance alone; after it, only a manager.
- Large orders: an order above a threshold, or one that takes the customer's spending of the
  last 30 days above another, is "pending" until a department head (of the order's department)
  or a manager other than the marketer confirms it — in person on their own device, or with
  their PIN on the marketer's tablet. Until then no money is taken and no goods leave.
  Confirming (order_taking.confirm_order) hands the goods over and writes a next-day
  confirmation call for the confirmer.
- Family contact: the confirmation can require that the customer's family contact was told.
"""
import re
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from formatting import fen
from models.accounts import User, UserRole
from models.audit import AuditEntry, audit
from models.base import InvalidInput, PermissionDenied
from models.clock import local_day
from models.orders.tables import Order
from models.orders import pricing
from models.scoping import department_subtree_ids
from models.settings import get_setting

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
    users = db.session.scalars(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(User.is_active.is_(True), UserRole.role.in_(CONFIRMER_ROLES))
        .order_by(User.display_name).distinct()).all()
    allowed = [user for user in users
               if may_confirm(user, order) and pricing.may_approve(user, order)]
    return sorted(allowed, key=lambda user: user.id != actor.id)


def pin_failures(user, now):
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

"""The orders area's settings, audit labels, timeline entries and ledger check."""
from flask import has_request_context, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select

from extensions import db
from formatting import fen
from models.accounts import User
from models.audit import register_actions, register_targets
from models.inventory import Product
from models.ledgers import register_check
from models.orders.reads import check_payments
from models.orders.tables import (METHODS, PAYMENT_KINDS, Order, OrderLine, OrderReturn,
                                   Payment)
from models.settings import define, define_area
from models.timeline import TimelineItem, register_provider

define_area("orders", _l("Orders and payments"))
define("orders.due_days", "int", 30, _l("Days to pay the balance"),
       _l("The due date an order gets when none is entered."), min=0, max=365)
# The safeguards for older customers (orders/safeguards.py):
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

register_actions({
    "order.create": _l("Took an order"), "order.cancel": _l("Cancelled an order"),
    "order.return": _l("Took goods back"), "payment.receive": _l("Received a payment"),
    "payment.refund": _l("Refunded"), "payment.reverse": _l("Reversed a payment"),
    "payment.goodwill_refund": _l("Goodwill refund (beyond what was overpaid)"),
    "cash.close": _l("Closed a cashier's day"), "package.save": _l("Saved a package"),
    "order.confirm": _l("Confirmed a large order"),
    "order.price_approve": _l("Approved a price below authority"),
    "order.pin_failed": _l("Typed a wrong confirmation PIN"),
    "user.pin": _l("Set a confirmation PIN"),
})
register_targets({"orders": _l("Order"), "cash_closes": _l("Daily close"),
                  "packages": _l("Package")})


def _order_url(order_id):
    return url_for("orders.show", order_id=order_id) if has_request_context() else None


@register_provider
def _order_items(customer, limit):
    """The customer's orders, payments and returns. Read as columns, not as entities: a customer
    of fifty orders made this the dearest part of their page (bench/scale.py)."""
    orders = db.session.execute(
        select(Order.id, Order.number, Order.total, Order.created_at, User.display_name)
        .join(User, User.id == Order.marketer_id).where(Order.customer_id == customer.id)
        .order_by(Order.created_at.desc()).limit(limit)).all()
    lines = {}
    if orders:
        for order_id, name, quantity in db.session.execute(
                select(OrderLine.order_id, Product.name, OrderLine.quantity)
                .join(Product, Product.id == OrderLine.product_id)
                .where(OrderLine.order_id.in_([order.id for order in orders]))
                .order_by(OrderLine.id)):
            lines.setdefault(order_id, []).append(f"{name}×{quantity}")
    items = [TimelineItem(
        at=order.created_at, kind="order.create",
        title=_("Order %(number)s: %(total)s", number=order.number, total=fen(order.total)),
        detail="、".join(lines.get(order.id, ())), actor=order.display_name,
        url=_order_url(order.id)) for order in orders]
    for payment in db.session.execute(
            select(Payment.order_id, Payment.at, Payment.kind, Payment.amount, Payment.method,
                   Payment.reference, Payment.reason, Order.number, User.display_name)
            .join(Order, Payment.order_id == Order.id)
            .join(User, User.id == Payment.cashier_id)
            .where(Order.customer_id == customer.id).order_by(Payment.at.desc()).limit(limit)):
        items.append(TimelineItem(
            at=payment.at, kind=f"payment.{payment.kind}",
            title=_("%(kind)s %(amount)s on %(number)s", kind=PAYMENT_KINDS[payment.kind],
                    amount=fen(abs(payment.amount)), number=payment.number),
            detail=f"{METHODS[payment.method]} {payment.reference or payment.reason}".strip(),
            actor=payment.display_name, url=_order_url(payment.order_id)))
    for record in db.session.execute(
            select(OrderReturn.order_id, OrderReturn.at, OrderReturn.quantity,
                   OrderReturn.reason, Order.number, Product.name, User.display_name)
            .join(Order, OrderReturn.order_id == Order.id)
            .join(OrderLine, OrderLine.id == OrderReturn.line_id)
            .join(Product, Product.id == OrderLine.product_id)
            .join(User, User.id == OrderReturn.approved_by_id)
            .where(Order.customer_id == customer.id).order_by(OrderReturn.at.desc())
            .limit(limit)):
        items.append(TimelineItem(
            at=record.at, kind="order.return",
            title=_("Returned %(name)s × %(n)s on %(number)s", name=record.name,
                    n=record.quantity, number=record.number),
            detail=record.reason, actor=record.display_name, url=_order_url(record.order_id)))
    return items


register_check("payments")(check_payments)

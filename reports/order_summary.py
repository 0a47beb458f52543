"""The customer's large-print order summary (A5): what was bought, what was paid, what is due
and when, what the company keeps for them, the last day of the cooling-off period, whom to
call — in plain words, for older customers and their families."""
from flask_babel import gettext as _

from formatting import local_day, long_date, national_phone
from models import custody
from models.base import utcnow
from models.orders import safeguards
from models.settings import get_setting
from reports import render_pdf


def gather(order, *, printed_by):
    customer = order.customer
    family = ""
    if customer.family_name:
        family = customer.family_name + (f"（{customer.family_relation}）"
                                         if customer.family_relation else "")
    return {
        "title": _("Your order in brief"), "number": order.number, "customer": customer.name,
        "ordered_on": long_date(local_day(order.created_at)),
        "lines": [{"name": line.product.name, "quantity": line.quantity,
                   "unit": line.product.unit, "amount": line.amount} for line in order.lines],
        "total": order.total, "returned_value": order.returned_value, "paid": order.paid,
        "balance_due": order.balance_due,
        "due_date": long_date(order.due_date) if order.due_date else "",
        "held": [] if order.is_pending else held_now(order),
        "cooling_off_day": long_date(safeguards.cooling_off_last_day(order)),
        "pending": order.is_pending, "cancelled": order.status == "cancelled",
        "marketer": order.marketer.display_name,
        "marketer_phone": national_phone(order.marketer.phone) if order.marketer.phone else "",
        "service_phone": get_setting("orders.service_phone"), "family": family,
        "printed_by": printed_by, "printed_at": utcnow(), "period": "",
    }


def held_now(order):
    """[(product name, held, may be collected now, unit)] from the custody ledger — what the
    company holds for the order now (after pickups and returns), not what the lines once left
    with it — and, by the release rule, how much of it may be collected today."""
    holdings = custody.order_holdings(order)
    return [(line.product.name, *holdings[line.id], line.product.unit)
            for line in order.lines if line.id in holdings]


def build(data):
    return render_pdf("print/order_summary.html", data)

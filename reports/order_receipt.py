"""An order's receipt (收据): what was bought, what was paid and how, what is still due."""
from flask_babel import gettext as _

from formatting import local_dt, long_date
from models import custody, orders as o
from models.orders import safeguards
from models.base import utcnow
from reports import render_pdf


def gather(order, *, printed_by):
    """Plain data for the receipt (no ORM objects leave this function). What is held comes
    from the custody ledger: what the company keeps now, after pickups and returns."""
    held = custody.order_holdings(order)
    lines = [{"name": line.product.name, "spec": line.product.specification,
              "unit": line.product.unit, "quantity": line.quantity,
              "unit_price": line.unit_price, "discount": line.discount, "amount": line.amount,
              "held": held.get(line.id, (0, 0))[0], "returned": line.returned,
              "package": line.package.name if line.package_id else ""} for line in order.lines]
    payments = [{"at": local_dt(p.at), "kind": str(o.PAYMENT_KINDS[p.kind]),
                 "method": str(o.METHODS[p.method]), "amount": p.amount,
                 "reference": p.reference or p.reason, "cashier": p.cashier.display_name}
                for p in o.payments_of(order)]
    return {
        "title": _("Payment receipt"), "number": order.number, "customer": order.customer.name,
        "marketer": order.marketer.display_name, "created_at": local_dt(order.created_at),
        "channel": str(o.CHANNELS[order.channel]),
        "event": order.event.title if order.event_id else "",
        "lines": lines, "payments": payments, "total": order.total,
        "returned_value": order.returned_value, "paid": order.paid,
        "balance_due": order.balance_due, "due_date": order.due_date,
        "cancelled": order.status == "cancelled",
        "cooling_off_day": long_date(safeguards.cooling_off_last_day(order)),
        "held": [(line["name"], line["held"], line["unit"]) for line in lines if line["held"]],
        "printed_by": printed_by, "printed_at": utcnow(),
        "day": local_dt(order.created_at, "%Y-%m-%d"),
    }


def build(data):
    return render_pdf("print/order_receipt.html", data)

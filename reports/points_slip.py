"""A points redemption slip (积分兑换单): what was taken, the points, what is left and when
points expire."""
from flask_babel import gettext as _
from sqlalchemy import select

from extensions import db
from formatting import local_day, local_dt
from models import inventory as inv, points as pt
from models.base import utcnow
from reports import render_pdf


def gather(redemption, *, printed_by):
    moves = db.session.scalars(select(inv.StockMove).where(
        inv.StockMove.document_type == "points_redemptions",
        inv.StockMove.document_id == redemption.id,
        inv.StockMove.reverses_id.is_(None)).order_by(inv.StockMove.id)).all()
    return {"title": _("Points redemption slip"), "number": redemption.number,
            "customer": redemption.customer.name, "at": local_dt(redemption.at),
            "by": redemption.actor.display_name, "points": redemption.points,
            "reversed": redemption.reversed_at is not None,
            "in_custody": redemption.in_custody,
            "lines": [{"name": m.product.name, "unit": m.product.unit,
                       "quantity": m.quantity, "points": m.product.points_price * m.quantity}
                      for m in moves],
            "balance": pt.balance_of(redemption.customer_id),
            "expiring": pt.expiring(redemption.customer_id, local_day(utcnow())),
            "printed_by": printed_by, "printed_at": utcnow(),
            "day": local_dt(redemption.at, "%Y-%m-%d")}


def build(data):
    return render_pdf("print/points_slip.html", data)

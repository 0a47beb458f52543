"""A receipt, transfer or scrap slip (入库单 / 调拨单 / 报损单), printed for signatures."""
from formatting import local_dt
from models import inventory as inv
from models.base import utcnow
from reports import render_pdf

def gather(document, *, printed_by):
    """Plain data for the slip (no ORM objects leave this function)."""
    moves = inv.document_moves(document)
    lines = [{"sku": m.product.sku, "name": m.product.name, "unit": m.product.unit,
              "batch": inv.batch_label(m.batch), "expiry": m.batch.expiry_date or "",
              "quantity": -m.quantity if m.reverses_id else m.quantity,
              "unit_cost": m.unit_cost,
              "value": -m.value if m.reverses_id else m.value,
              "reversal": m.reverses_id is not None} for m in moves]
    return {
        "title": str(inv.DOCUMENT_KINDS[document.kind]), "kind": document.kind,
        "number": document.number, "created_at": local_dt(document.created_at),
        "created_by": document.created_by.display_name,
        "warehouse": document.warehouse.name,
        "to_warehouse": document.to_warehouse.name if document.to_warehouse else "",
        "supplier": document.supplier, "note": document.note, "lines": lines,
        "short_dated": document.short_dated,
        "total_quantity": sum(line["quantity"] for line in lines),
        "total_value": sum(line["value"] for line in lines),
        "reversed": any(line["reversal"] for line in lines),
        "printed_by": printed_by, "printed_at": utcnow(),
        "day": local_dt(document.created_at, "%Y-%m-%d"),
    }


def build(data):
    return render_pdf("print/stock_slip.html", data)

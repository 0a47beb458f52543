"""Stock counts (盘点): freeze the book, enter what is on the shelves, post the differences.

Starting a count copies the book quantity of every batch in the warehouse (free stock and the
custody shelf) into its lines. The clerks count while the warehouse keeps working; posting turns
each line's difference (counted − book at the start) into a count-adjustment move against
today's balance, so goods issued or received during the count are neither lost nor counted
twice. A posted count is a read-only document.
"""
from flask_babel import gettext as _
from sqlalchemy import func, select

from extensions import db
from models.audit import audit
from models.base import Conflict, InvalidInput, NotFound, lock_row, utcnow
from models.clock import document_number
from models.inventory import stock
from models.inventory.catalogue import product_search_clause
from models.inventory.tables import (INTERNAL_KINDS, Batch, Location, Product, StockCount,
                                     StockCountLine, StockMove, StockQuant)

DOCUMENT = "stock_counts"


def open_count_of(warehouse):
    return db.session.scalar(select(StockCount).where(StockCount.warehouse_id == warehouse.id,
                                                      StockCount.status == "open"))


def start_count(warehouse, *, actor, token=None, note="", now=None):
    """Start counting a warehouse: one line per batch it holds, with the book quantity now.
    One open count per warehouse."""
    stock._check_warehouse(warehouse)
    warehouse = lock_row(warehouse)  # one open count per warehouse, even from two screens
    if token and (prior := StockCount.by_token(token)) is not None:
        return prior
    if (current := open_count_of(warehouse)) is not None:
        raise Conflict(_("Count %(number)s of this warehouse is still open: finish or cancel it "
                         "first.", number=current.number))
    now = now or utcnow()
    count = StockCount(warehouse_id=warehouse.id, note=(note or "").strip()[:1000],
                       started_by_id=actor.id, started_at=now, token=token or None,
                       last_move_id=db.session.scalar(select(func.max(StockMove.id))) or 0)
    db.session.add(count)
    db.session.flush()
    count.number = document_number("PD", now, count.id)
    quants = db.session.execute(
        select(StockQuant.location_id, StockQuant.product_id, StockQuant.batch_id,
               StockQuant.quantity)
        .join(Location, StockQuant.location_id == Location.id)
        .where(Location.warehouse_id == warehouse.id, Location.kind.in_(INTERNAL_KINDS))).all()
    db.session.add_all([StockCountLine(count_id=count.id, location_id=row.location_id,
                                       product_id=row.product_id, batch_id=row.batch_id,
                                       book=row.quantity) for row in quants])
    db.session.flush()
    audit(actor, "stock.count_start", count, summary=f"{count.number} {count.warehouse.name}",
          now=now)
    return count


def _check_open(count):
    if count.status == "posted":
        raise Conflict(_("Count %(number)s has been posted and can no longer change.",
                         number=count.number))
    if count.status != "open":
        raise Conflict(_("Count %(number)s was cancelled.", number=count.number))


def count_lines(count, text="", *, only=None):
    """The lines of a count, filtered by what was typed or scanned (SKU, name, pinyin), or by
    state: only="uncounted" | "differences"."""
    query = (select(StockCountLine).join(Product, StockCountLine.product_id == Product.id)
             .join(Batch, StockCountLine.batch_id == Batch.id)
             .where(StockCountLine.count_id == count.id)
             .order_by(Product.sku, StockCountLine.location_id, Batch.expiry_date, Batch.id))
    if (clause := product_search_clause(text)) is not None:
        query = query.where(clause)
    if only == "uncounted":
        query = query.where(StockCountLine.counted.is_(None))
    elif only == "differences":
        query = query.where(StockCountLine.counted.is_not(None),
                            StockCountLine.counted != StockCountLine.book)
    return db.session.scalars(query).all()


def find_count_lines(count, text):
    """Lines for what was typed at the count; refuses a product that is not in the warehouse."""
    lines = count_lines(count, text)
    if text.strip() and not lines:
        raise NotFound(_("Nothing matching “%(text)s” is on the book of %(warehouse)s: a "
                         "product not in the warehouse cannot be counted here.",
                         text=text.strip()[:40], warehouse=count.warehouse.name))
    return lines


def enter_counted(count, line_id, counted, *, actor, now=None):
    """Record what was counted on one line (entering it again replaces it until posting)."""
    _check_open(count)
    line = db.session.get(StockCountLine, line_id) if isinstance(line_id, int) and \
        0 < line_id < 2**31 else None
    if line is None or line.count_id != count.id:
        raise NotFound(_("That line is not on this count: a product not in the warehouse "
                         "cannot be counted here."))
    if isinstance(counted, bool) or not isinstance(counted, int) or not 0 <= counted <= \
            stock.MAX_QUANTITY:
        raise InvalidInput(_("Enter the counted quantity: a whole number, 0 or more."),
                           field="counted")
    line.counted, line.counted_by_id, line.counted_at = counted, actor.id, now or utcnow()
    db.session.flush()
    return line


def progress(count):
    """{"lines", "counted", "differences"} for the count's header."""
    row = db.session.execute(select(
        func.count(StockCountLine.id), func.count(StockCountLine.counted),
        func.count(StockCountLine.id).filter(StockCountLine.counted.is_not(None),
                                             StockCountLine.counted != StockCountLine.book))
        .where(StockCountLine.count_id == count.id)).one()
    return {"lines": row[0], "counted": row[1], "differences": row[2]}


def post_count(count, *, actor, uncounted_as_book=False, now=None):
    """Post the differences as count-adjustment moves; the count becomes read-only. Lines not
    counted keep their book quantity, which the clerk must confirm (uncounted_as_book)."""
    count = db.session.scalar(select(StockCount).where(StockCount.id == count.id)
                              .with_for_update(of=StockCount)
                              .execution_options(populate_existing=True))
    _check_open(count)
    totals = progress(count)
    if totals["counted"] == 0:
        raise InvalidInput(_("Nothing has been counted yet."), field="uncounted_as_book")
    if totals["counted"] < totals["lines"] and not uncounted_as_book:
        raise InvalidInput(_("%(n)s lines are not counted. Count them, or confirm that they "
                             "keep their book quantity.", n=totals["lines"] - totals["counted"]),
                           field="uncounted_as_book")
    now = now or utcnow()
    adjustment = stock.outside("adjustment")
    moves = []
    for line in count_lines(count, only="differences"):
        product, batch = line.product, line.batch
        location = line.location
        difference = line.counted - line.book
        source, target = (adjustment, location) if difference > 0 else (location, adjustment)
        try:
            moves.append(stock._write_move(
                product=product, batch=batch, source=source, target=target,
                quantity=abs(difference), reason="count_adjustment", actor=actor,
                document=(DOCUMENT, count.id), note=count.number, now=now))
        except Conflict:
            raise Conflict(_("%(name)s (batch %(batch)s): more was issued during the count than "
                             "was counted; recount this line.", name=product.name,
                             batch=stock.batch_label(batch))) from None
    count.status, count.posted_by_id, count.posted_at = "posted", actor.id, now
    db.session.flush()
    audit(actor, "stock.count_post", count,
          summary=_("%(number)s: %(n)s differences posted", number=count.number, n=len(moves)),
          now=now)
    return moves


def cancel_count(count, *, actor, now=None):
    _check_open(count)
    count.status = "cancelled"
    db.session.flush()
    audit(actor, "stock.count_cancel", count, summary=count.number, now=now)


def get_count_or_404(count_id):
    count = db.session.get(StockCount, count_id) if 0 < count_id < 2**31 else None
    if count is None:
        raise NotFound(_("No such stock count."))
    return count


def counts(warehouse=None):
    query = select(StockCount).order_by(StockCount.started_at.desc(), StockCount.id.desc())
    if warehouse is not None:
        query = query.where(StockCount.warehouse_id == warehouse.id)
    return query

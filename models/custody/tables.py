"""The custody ledger's tables: a pickup (one visit to collect goods), the entries (deposits,
pickups, returns out of custody, reversals) and the holdings brought from the old system
(期初寄存), which entries are grouped under as others are under an order line or a redemption."""
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import TokenMixin, UTCDateTime, utcnow

ENTRY_KINDS = {"deposit": _l("Left in custody"), "pickup": _l("Picked up"),
               "return": _l("Returned out of custody"), "reversal": _l("Reversal")}
PICKUP_ROLES = ("warehouse", "manager", "event_staff")
#: Roles that release goods before they are paid for (with a reason).
EARLY_RELEASE_ROLES = ("manager",)
#: When goods held may be collected (the setting custody.release_rule) → its label.
RELEASE_RULES = {"proportional": _l("In proportion to what is paid"),
                 "full": _l("Only once the order is paid in full")}
DOCUMENT = "custody_pickups"


class CustodyPickup(TokenMixin, db.Model):
    """One visit to collect goods: who came, who handed them over; its lines are entries."""
    __tablename__ = "custody_pickups"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(30), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    #: A family member who collected for the customer ("" when the customer came).
    collected_by: Mapped[str] = mapped_column(String(40), default="")
    relation: Mapped[str] = mapped_column(String(20), default="")
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    #: A manager's early release past the payment rule, and why.
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    release_reason: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer = relationship("Customer", lazy="joined")
    actor = relationship("User", foreign_keys=[actor_id], lazy="joined")


class OpeningHolding(db.Model):
    """Goods a customer already held with the company when it moved in (期初寄存), from the old
    spreadsheet (models.opening, kind "custody"). Its entries (the deposit onto the custody shelf,
    or a pooled warehouse's promise; pickups; reversals) name it, as an order line's name the
    line: the holding is the third thing goods are held under, beside order lines and
    redemptions, and holds what the old sheet said of them."""
    __tablename__ = "custody_opening_holdings"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_above_zero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    #: The units held when the company moved in (the deposit's quantity).
    quantity: Mapped[int] = mapped_column(Integer)
    #: Paid for in the old system: free to collect. Unpaid goods are held back; only a
    #: manager's early release (with a reason, as for an order) lets them go.
    is_paid: Mapped[bool] = mapped_column(Boolean)
    #: Since when the old system held them (unknown: NULL); the ledger's entries are dated the
    #: day of the import.
    held_since: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product = relationship("Product", lazy="joined")


class CustodyEntry(db.Model):
    """One line of the custody ledger. Append-only."""
    __tablename__ = "custody_entries"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        CheckConstraint("kind IN ('deposit', 'pickup', 'return', 'reversal')",
                        name="known_kind"),
        Index("ix_custody_entries_customer_product", "customer_id", "product_id"),
        Index("ix_custody_entries_line", "order_line_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    #: The batch held on the custody shelf; NULL in a pooled warehouse, where a held quantity
    #: is a promise on ordinary stock (no batch is set aside).
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    kind: Mapped[str] = mapped_column(String(10))
    #: Signed: deposits add, pickups and returns take away, a reversal undoes its entry.
    quantity: Mapped[int] = mapped_column(Integer)
    pickup_id: Mapped[int | None] = mapped_column(ForeignKey("custody_pickups.id"), index=True)
    #: Goods redeemed with points and left with the company (no order line: already paid).
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("points_redemptions.id"),
                                                      index=True)
    #: Goods held since before the move-in (no order line, no redemption).
    opening_holding_id: Mapped[int | None] = mapped_column(
        ForeignKey("custody_opening_holdings.id"), index=True)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("custody_entries.id"),
                                                    unique=True)
    #: A pickup in a pooled warehouse: the stock move that handed the goods over from ordinary
    #: stock (its batch is the one the customer took).
    stock_move_id: Mapped[int | None] = mapped_column(ForeignKey("stock_moves.id"),
                                                      unique=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product = relationship("Product", lazy="joined")
    batch = relationship("Batch", lazy="joined")
    actor = relationship("User", lazy="joined")
    stock_move = relationship("StockMove", lazy="select")

    @property
    def handed_batch(self):
        """The batch the entry is about: the one on the custody shelf, or the one a pooled
        pickup's stock move handed over; None for a pooled promise (no batch set aside)."""
        if self.batch is not None:
            return self.batch
        return self.stock_move.batch if self.stock_move is not None else None


# --- Writing ---------------------------------------------------------------------------------

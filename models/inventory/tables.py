"""The warehouse's tables: products, warehouses and their locations, batches, the stock ledger
(moves) with its cached balances (quants), the clerks' documents and stock counts.

Stock sits in *locations*. Each warehouse has two: its free stock and the goods it holds for
customers (custody, 寄存). The world outside has one location per kind: suppliers, customers,
scrap and count differences. A move takes a quantity of one batch of one product from one location
to another; a location's stock is what moved in minus what moved out. Moves are never edited
or deleted: a wrong one is reversed by a move the other way that names it (红冲).
"""
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import TokenMixin, UTCDateTime, utcnow

UNITS = ["盒", "瓶", "袋", "罐", "支", "件", "台", "套", "份", "个", "箱", "kg"]

WAREHOUSE_KINDS = {"main": _l("Main store"), "venue": _l("Venue kit"), "store": _l("Shop"),
                   "other": _l("Other")}
#: How a warehouse keeps goods customers leave in custody (寄存): on a reserved custody shelf
#: (moved there when sold, off free stock), or pooled — a promise on the custody ledger while
#: the goods stay in ordinary stock, issued first expiry first when collected.
CUSTODY_MODES = {"reserved": _l("Reserved: held goods on their own shelf"),
                 "pooled": _l("Pooled: held goods stay in stock as a promise")}

#: Location kinds. Internal ones belong to a warehouse and hold stock; the others are the
#: outside world, one location each.
LOCATION_KINDS = {"stock": _l("Free stock"), "custody": _l("Held for customers"),
                  "supplier": _l("Supplier"), "customer": _l("Customer"), "scrap": _l("Scrap"),
                  "adjustment": _l("Count difference")}
INTERNAL_KINDS = ("stock", "custody")
OUTSIDE_KINDS = ("supplier", "customer", "scrap", "adjustment")

#: Why stock moved. Later areas (orders, gifts, points, custody) move stock with theirs.
REASONS = {
    "receipt": _l("Purchase receipt"), "sale_issue": _l("Sale issue"),
    "gift_issue": _l("Gift issue"), "redemption_issue": _l("Points redemption"),
    "custody_deposit": _l("Into custody"), "custody_pickup": _l("Custody pickup"),
    "customer_return": _l("Customer return"), "transfer": _l("Transfer"),
    "count_adjustment": _l("Count adjustment"), "scrap": _l("Scrap"),
    "opening": _l("Opening stock"),
}
#: Reasons that hand goods to a customer: an expired batch is never used for them.
NO_EXPIRED_REASONS = ("sale_issue", "gift_issue", "redemption_issue", "custody_deposit",
                      "custody_pickup")

DOCUMENT_KINDS = {"receipt": _l("Receipt"), "transfer": _l("Transfer"), "scrap": _l("Scrap"),
                  "count": _l("Stock count")}
COUNT_STATUSES = {"open": _l("Counting"), "posted": _l("Posted"), "cancelled": _l("Cancelled")}
#: Document number prefixes: 入库 RK, 调拨 DB, 报损 BS, 盘点 PD.
DOCUMENT_PREFIXES = {"receipt": "RK", "transfer": "DB", "scrap": "BS", "count": "PD"}


class ProductCategory(db.Model):
    __tablename__ = "product_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    #: Percent of the usual points the category's products earn (NULL: 100).
    points_multiplier: Mapped[int | None] = mapped_column(Integer)


class Product(db.Model):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("sale_price >= 0 AND standard_cost >= 0", name="prices_not_negative"),
        CheckConstraint("floor_price IS NULL OR floor_price >= 0", name="floor_not_negative"),
        CheckConstraint("points_price IS NULL OR points_price > 0", name="points_price_positive"),
        CheckConstraint("shelf_life_days IS NULL OR shelf_life_days > 0",
                        name="shelf_life_positive"),
        CheckConstraint("low_stock_threshold >= 0", name="threshold_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    #: Lower-case pinyin of the name without spaces, and its initials (search at the counter).
    name_pinyin: Mapped[str] = mapped_column(String(320), index=True)
    name_initials: Mapped[str] = mapped_column(String(80), index=True)
    unit: Mapped[str] = mapped_column(String(10))
    specification: Mapped[str] = mapped_column(String(80), default="")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("product_categories.id"),
                                                    index=True)
    for_sale: Mapped[bool] = mapped_column(Boolean, default=True)
    is_gift: Mapped[bool] = mapped_column(Boolean, default=False)
    redeemable: Mapped[bool] = mapped_column(Boolean, default=False)
    is_spare: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Fen.
    sale_price: Mapped[int] = mapped_column(Integer, default=0)
    standard_cost: Mapped[int] = mapped_column(Integer, default=0)
    #: The lowest unit price it sells at without approval (最低售价; NULL: the cost price), see
    #: models.orders.pricing.
    floor_price: Mapped[int | None] = mapped_column(Integer)
    #: Points a customer spends to redeem one unit (redeemable products).
    points_price: Mapped[int | None] = mapped_column(Integer)
    #: Percent of the usual points the product earns when bought (NULL: its category's; 0:
    #: earns nothing).
    points_multiplier: Mapped[int | None] = mapped_column(Integer)
    shelf_life_days: Mapped[int | None] = mapped_column(Integer)
    #: Days one unit lasts a customer (a box of 30 capsules: 30), for repurchase reminders; 0:
    #: no reminder.
    days_per_unit: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    low_stock_threshold: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    category = relationship("ProductCategory", lazy="joined")

    @property
    def kinds(self):
        """The product's kind flags as labels (for lists)."""
        return [label for flag, label in PRODUCT_FLAGS.items() if getattr(self, flag)]


PRODUCT_FLAGS = {"for_sale": _l("For sale"), "is_gift": _l("Gift"),
                 "redeemable": _l("Redeemable with points"), "is_spare": _l("Spare")}
#: Price fields whose every change is kept.
PRICE_FIELDS = {"sale_price": _l("Sale price"), "standard_cost": _l("Standard cost"),
                "floor_price": _l("Floor price"), "points_price": _l("Points price")}


class PriceChange(db.Model):
    """A change of a product's price, cost or points price: who, when, old, new."""
    __tablename__ = "product_price_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    field: Mapped[str] = mapped_column(String(20))
    old_value: Mapped[int | None] = mapped_column(Integer)
    new_value: Mapped[int | None] = mapped_column(Integer)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor = relationship("User", lazy="joined")


class Warehouse(db.Model):
    __tablename__ = "warehouses"
    __table_args__ = (
        CheckConstraint("custody_mode IN ('reserved', 'pooled')", name="known_custody_mode"),
    )
    #: custody_mode is read when used, not returned by every insert (see the column).
    __mapper_args__ = {"eager_defaults": False}

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="main")
    address: Mapped[str] = mapped_column(String(200), default="")
    #: CUSTODY_MODES: "reserved" (a custody shelf) or "pooled" (a promise on free stock).
    #: Loaded when read and defaulted by the database, so that the warehouses of every
    #: location and batch loaded never name it (a migration test writes at older revisions).
    custody_mode: Mapped[str] = mapped_column(String(10), server_default="reserved",
                                              deferred=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    locations = relationship("Location", back_populates="warehouse", lazy="select")


class Location(db.Model):
    """Where stock is: a warehouse's free stock or its custody shelf, or the outside world."""
    __tablename__ = "stock_locations"
    __table_args__ = (
        UniqueConstraint("warehouse_id", "kind"),
        CheckConstraint("(warehouse_id IS NULL) = (kind NOT IN ('stock', 'custody'))",
                        name="internal_has_warehouse"),
        # One location per kind for the outside world.
        Index("uq_stock_locations_outside_kind", "kind", unique=True,
              sqlite_where=text("warehouse_id IS NULL"),
              postgresql_where=text("warehouse_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    kind: Mapped[str] = mapped_column(String(12))

    warehouse = relationship("Warehouse", back_populates="locations", lazy="joined")

    @property
    def is_internal(self):
        return self.kind in INTERNAL_KINDS

    @property
    def label(self):
        if self.warehouse is None:
            return str(LOCATION_KINDS[self.kind])
        if self.kind == "stock":
            return self.warehouse.name
        return f"{self.warehouse.name} · {LOCATION_KINDS[self.kind]}"


class Batch(db.Model):
    """A production batch (批次) of a product; expiry decides the order stock is issued in."""
    __tablename__ = "batches"
    __table_args__ = (
        UniqueConstraint("product_id", "number"),
        CheckConstraint("expiry_date IS NULL OR produced_on IS NULL OR expiry_date >= produced_on",
                        name="expiry_after_production"),
        CheckConstraint("unit_cost >= 0", name="cost_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    #: The batch number printed on the box; "" for goods received without one.
    number: Mapped[str] = mapped_column(String(40))
    produced_on: Mapped[date | None] = mapped_column(Date)
    expiry_date: Mapped[date | None] = mapped_column(Date, index=True)
    #: Fen per unit, from the first receipt (the product's standard cost when not given).
    unit_cost: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product = relationship("Product", lazy="select")

    def is_expired(self, today):
        return self.expiry_date is not None and self.expiry_date < today


class StockQuant(db.Model):
    """The cached balance of one product batch in one internal location: the sum of its moves,
    updated in the same transaction as each move and proven by `check-ledgers`. Its row is the
    one locked when stock is taken."""
    __tablename__ = "stock_quants"
    __table_args__ = (UniqueConstraint("location_id", "product_id", "batch_id"),
                      Index("ix_stock_quants_product_location", "product_id", "location_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer, default=0)

    location = relationship("Location", lazy="joined")
    product = relationship("Product", lazy="joined")
    batch = relationship("Batch", lazy="joined")


class StockMove(db.Model):
    """One line of the stock ledger. Append-only."""
    __tablename__ = "stock_moves"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("from_location_id <> to_location_id", name="moves_somewhere"),
        Index("ix_stock_moves_product_at", "product_id", "at"),
        # A document's moves; covering what the cost of goods sold reads of an order's moves
        # (models.orders.cogs), so it reads no row of the table.
        Index("ix_stock_moves_document_cost", "document_type", "document_id", "reason",
              "reverses_id", "to_location_id", "product_id", "quantity", "unit_cost"),
        # The goods brought back in a period (models.orders.cogs.of_period).
        Index("ix_stock_moves_reason_at", "reason", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    from_location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"), index=True)
    to_location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    #: Fen per unit at the time of the move (the batch's cost): what the goods were worth.
    unit_cost: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(20))
    #: The document the move belongs to: ("stock_documents", id), ("stock_counts", id), and
    #: later orders, gift issues, redemptions, custody pickups.
    document_type: Mapped[str] = mapped_column(String(30), default="")
    document_id: Mapped[int | None] = mapped_column(Integer)
    #: The customer and event the goods went to or came from, when there is one.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    #: The move this one reverses (红冲); a move is reversed at most once.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("stock_moves.id"), unique=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    product = relationship("Product", lazy="joined")
    batch = relationship("Batch", lazy="joined")
    from_location = relationship("Location", foreign_keys=[from_location_id], lazy="joined")
    to_location = relationship("Location", foreign_keys=[to_location_id], lazy="joined")
    actor = relationship("User", lazy="joined")
    reverses = relationship("StockMove", remote_side=[id], foreign_keys=[reverses_id],
                            lazy="select")

    @property
    def value(self):
        return self.quantity * self.unit_cost


class StockDocument(TokenMixin, db.Model):
    """A clerk's document: a receipt from a supplier, a transfer, a scrap. Its lines are its
    moves (document_type "stock_documents")."""
    __tablename__ = "stock_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    #: RK20261125-00012: prefix, company date, id.
    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    #: Transfers: where the goods went.
    to_warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    supplier: Mapped[str] = mapped_column(String(80), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    #: A receipt of a batch already expired or near its expiry, received on a second
    #: confirmation: the document says so.
    short_dated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    warehouse = relationship("Warehouse", foreign_keys=[warehouse_id], lazy="joined")
    to_warehouse = relationship("Warehouse", foreign_keys=[to_warehouse_id], lazy="joined")
    created_by = relationship("User", lazy="joined")


class StockCount(TokenMixin, db.Model):
    """A stock count (盘点) of one warehouse: book quantities frozen at the start, counted
    quantities entered, differences posted as count-adjustment moves."""
    __tablename__ = "stock_counts"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'posted', 'cancelled')", name="known_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="open")
    note: Mapped[str] = mapped_column(Text, default="")
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The last move in the ledger when the book was frozen: moves after it happened during
    #: the count.
    last_move_id: Mapped[int] = mapped_column(Integer, default=0)
    posted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    warehouse = relationship("Warehouse", lazy="joined")
    started_by = relationship("User", foreign_keys=[started_by_id], lazy="joined")
    posted_by = relationship("User", foreign_keys=[posted_by_id], lazy="select")
    lines = relationship("StockCountLine", back_populates="count", lazy="select",
                         order_by="StockCountLine.id")


class StockCountLine(db.Model):
    __tablename__ = "stock_count_lines"
    __table_args__ = (
        UniqueConstraint("count_id", "location_id", "product_id", "batch_id"),
        CheckConstraint("counted IS NULL OR counted >= 0", name="counted_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_counts.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))
    #: The book quantity when the count started.
    book: Mapped[int] = mapped_column(Integer)
    #: What was counted; NULL until entered.
    counted: Mapped[int | None] = mapped_column(Integer)
    counted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    count = relationship("StockCount", back_populates="lines")
    location = relationship("Location", lazy="joined")
    product = relationship("Product", lazy="joined")
    batch = relationship("Batch", lazy="joined")

    @property
    def difference(self):
        return None if self.counted is None else self.counted - self.book


class StockShortfall(db.Model):
    """A product whose free stock in a warehouse was below zero when the nightly job looked: on
    hand less what is promised to customers in custody (pooled custody). The warehouse clerk's
    list of what to bring in; one row per day, warehouse and product."""
    __tablename__ = "stock_shortfalls"
    __table_args__ = (UniqueConstraint("run_date", "warehouse_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_date: Mapped[date] = mapped_column(Date, index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    on_hand: Mapped[int] = mapped_column(Integer)
    promised: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    warehouse = relationship("Warehouse", lazy="joined")
    product = relationship("Product", lazy="joined")

    @property
    def free(self):
        return self.on_hand - self.promised

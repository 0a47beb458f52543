"""The sale and the money: packages, orders and their lines, payments (a ledger), returns, and
the cashiers' daily close.

An order's total is the sum of its lines. Its money is the payments ledger: receipts (deposit,
balance, full payment) are positive, refunds negative, and a reversal (by finance) is the
opposite of the entry it names. Paid = the sum; due = total − paid. The order row caches paid
and total (updated in the same transaction, proven by `check-ledgers`) and is the row locked
while a balance is checked.
"""
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String,
                        Text, UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import TokenMixin, UTCDateTime, utcnow

CHANNELS = {"event": _l("At an event"), "store": _l("In the shop"), "phone": _l("By phone")}
ORDER_STATUSES = {"open": _l("Open"), "cancelled": _l("Cancelled"),
                  "opening": _l("Opening arrears")}
#: Orders money may be owed on: the deals (open) and the debts brought from the old system
#: (opening: 期初欠款, no lines, never sales — models.opening). Arrears, reminders and what a
#: customer owes read these; sales, deals and their figures read "open" only.
OWING_STATUSES = ("open", "opening")
PAYMENT_STATES = {"unpaid": _l("Unpaid"), "part_paid": _l("Part-paid"), "paid": _l("Paid"),
                  "refunded": _l("Refunded")}
PAYMENT_KINDS = {"deposit": _l("Deposit (定金)"), "balance": _l("Balance payment (补款)"),
                 "full": _l("Full payment"), "refund": _l("Refund"),
                 "reversal": _l("Reversal")}
RECEIPT_KINDS = ("deposit", "balance", "full")
METHODS = {"cash": _l("Cash"), "wechat": _l("WeChat Pay"), "alipay": _l("Alipay"),
           "card": _l("Bank card"), "transfer": _l("Bank transfer"), "other": _l("Other")}
RETURN_DISPOSITIONS = {"restock": _l("Back into stock"), "scrap": _l("Scrapped")}
AGEING = {"not_due": _l("Not yet due"), "1_30": _l("1–30 days"), "31_60": _l("31–60 days"),
          "61_90": _l("61–90 days"), "over_90": _l("Over 90 days")}


class Package(db.Model):
    """A named bundle of products at one price (套餐: 大单/小单), so a deal is two taps."""
    __tablename__ = "packages"
    __table_args__ = (CheckConstraint("price > 0", name="price_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    price: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(200), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    items = relationship("PackageItem", back_populates="package", lazy="selectin",
                         order_by="PackageItem.id", cascade="all, delete-orphan")

    @property
    def list_price(self):
        return sum(item.quantity * item.product.sale_price for item in self.items)


class PackageItem(db.Model):
    __tablename__ = "package_items"
    __table_args__ = (UniqueConstraint("package_id", "product_id"),
                      CheckConstraint("quantity > 0", name="quantity_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)

    package = relationship("Package", back_populates="items")
    product = relationship("Product", lazy="joined")


class Order(TokenMixin, db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'cancelled', 'opening')", name="known_status"),
        CheckConstraint("channel IN ('event', 'store', 'phone')", name="known_channel"),
        CheckConstraint("confirmation IN ('', 'pending', 'confirmed')",
                        name="known_confirmation"),
        CheckConstraint("total >= 0 AND paid >= 0 AND paid <= total", name="paid_within_total"),
        CheckConstraint("returned_value >= 0 AND returned_value <= total",
                        name="returned_within_total"),
        # Covering the reports' sums per marketer (deals and sales in a period; arrears by due
        # date): read from the index alone, not order by order from the table.
        Index("ix_orders_marketer_created_status_total", "marketer_id", "created_at", "status",
              "total"),
        Index("ix_orders_department_balance", "department_id", "balance_due"),
        Index("ix_orders_marketer_balance_status_due", "marketer_id", "balance_due", "status",
              "due_date"),
        Index("ix_orders_customer_balance", "customer_id", "balance_due"),
        # The orders still owed on, and only those (a partial index, a tenth of the orders):
        # the arrears list (reads.arrears_query: OWING_STATUSES, balance_due > 0, by due date,
        # its page count and ageing_totals) and the company's arrears on the manager's and
        # finance's home pages (reports.home.arrears_of), read from the index alone.
        Index("ix_orders_owing_due", "due_date", "id", "balance_due", "marketer_id",
              "department_id",
              sqlite_where=text("status IN ('open', 'opening') AND balance_due > 0"),
              postgresql_where=text("status IN ('open', 'opening') AND balance_due > 0")),
        # The orders of a period, covering what the profit report groups them by and the
        # total the home page sums week by week.
        Index("ix_orders_created_status_keys", "created_at", "status", "confirmation",
              "marketer_id", "department_id", "event_id", "total"),
        # An event's orders (its prefix), and whether a guest bought at the event they came
        # to: the performance figures' "buyers" (check-ins of a period joined to their open
        # orders on event and customer) read from the index alone — by event only, PostgreSQL
        # filtered a million and a half orders for a month of the company (587 → 115 ms).
        Index("ix_orders_event_customer_status", "event_id", "customer_id", "status"),
        # An order's marketer by its id, from the index alone: the performance figures' money
        # received in a period (the period's payments summed per order, then credited to the
        # orders' marketers) — a seq scan of every order before (company month: 860 → 400 ms).
        Index("ix_orders_id_marketer", "id", "marketer_id"),
    )
    #: Orders are seen by the marketer credited, their department head, managers and finance.
    __scope__ = {"owner": "marketer_id", "department": "department_id"}

    id: Mapped[int] = mapped_column(primary_key=True)
    #: XS20261125-00012
    number: Mapped[str | None] = mapped_column(String(30), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    #: The marketer credited with the deal: performance is counted by this field.
    marketer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: The marketer's department when the deal was made (department figures).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    channel: Mapped[str] = mapped_column(String(10), default="event")
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    check_in_id: Mapped[int | None] = mapped_column(ForeignKey("check_ins.id"))
    #: Where the goods taken now were issued from (none for an opening debt: no goods).
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    status: Mapped[str] = mapped_column(String(10), default="open")
    #: Fen: the sum of the lines' amounts; the value of goods returned since; the sum of the
    #: payments ledger; and what the customer still owes (total − returned − paid; below zero
    #: when money is owed back). All four are proven by `check-ledgers`.
    total: Mapped[int] = mapped_column(Integer, default=0)
    returned_value: Mapped[int] = mapped_column(Integer, default=0)
    paid: Mapped[int] = mapped_column(Integer, default=0)
    balance_due: Mapped[int] = mapped_column(Integer, default=0)
    #: The day the money still due should be paid by.
    due_date: Mapped[date | None] = mapped_column(Date, index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    #: Large orders (safeguards for older customers): "" when none is needed, "pending" until a
    #: department head or manager confirms (no money taken, no goods leave), then "confirmed".
    confirmation: Mapped[str] = mapped_column(String(10), default="", index=True)
    #: Why the order needs a second confirmation, in words (the amount, or 30 days' spending).
    confirmation_reason: Mapped[str] = mapped_column(String(200), default="")
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The confirmer recorded that the customer's family contact was told of the order.
    family_informed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Price authority (models.orders.pricing): the lines' list price × quantity when taken
    #: (its discount, 优惠, is list_total − total); whether a line came to less than its floor
    #: price; why the prices needed approval (the order waits, as a large order does, for its
    #: confirmer), and the percent off the list price that was asked for.
    list_total: Mapped[int] = mapped_column(Integer, default=0)
    below_floor: Mapped[bool] = mapped_column(Boolean, default=False)
    price_reason: Mapped[str] = mapped_column(String(300), default="")
    discount_needed: Mapped[int] = mapped_column(Integer, default=0)

    customer = relationship("Customer", lazy="joined")
    marketer = relationship("User", foreign_keys=[marketer_id], lazy="joined")
    created_by = relationship("User", foreign_keys=[created_by_id], lazy="select")
    confirmed_by = relationship("User", foreign_keys=[confirmed_by_id], lazy="select")
    event = relationship("Event", lazy="select")
    warehouse = relationship("Warehouse", lazy="select")
    lines = relationship("OrderLine", back_populates="order", lazy="selectin",
                         order_by="OrderLine.id")

    @property
    def is_pending(self):
        """A large order waiting for its second confirmation: not yet binding."""
        return self.confirmation == "pending" and self.status == "open"

    @property
    def discount_given(self):
        """Fen off the list price (优惠): package prices, grade prices and discounts."""
        return max(self.list_total - self.total, 0)

    @property
    def net_total(self):
        """What the customer keeps is worth: the total less the goods brought back."""
        return self.total - self.returned_value

    @property
    def overpaid(self):
        """Paid beyond the net total: what a refund may give back without a goodwill approval."""
        return max(self.paid - self.net_total, 0)

    @property
    def payment_state(self):
        if self.paid == 0:
            return "refunded" if self.returned_value and self.returned_value >= self.total \
                else "unpaid"
        return "paid" if self.balance_due <= 0 else "part_paid"

    payments = relationship("Payment", back_populates="order", lazy="select",
                            order_by="Payment.id")


class OrderLine(db.Model):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0 AND discount >= 0", name="prices_not_negative"),
        CheckConstraint("discount <= quantity * unit_price", name="discount_within_price"),
        CheckConstraint("taken + held = quantity", name="taken_or_held"),
        CheckConstraint("returned >= 0 AND returned <= quantity", name="returned_within_sold"),
        CheckConstraint("held_unit_cost >= 0", name="held_cost_not_negative"),
        # An order's lines, covering what the profit report sums of them.
        Index("ix_order_lines_order_product_amounts", "order_id", "product_id", "quantity",
              "unit_price", "discount"),
        # The lines whose goods were promised in pooled custody, covering what the cost of
        # goods sold reads of them (models.orders.cogs): none at all in a company without a
        # pooled warehouse, so a period's cost reads nothing more.
        Index("ix_order_lines_promised", "order_id", "product_id", "held", "held_unit_cost",
              sqlite_where=text("held_unit_cost IS NOT NULL"),
              postgresql_where=text("held_unit_cost IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    #: The package the line came from, if any.
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    #: Fen per unit; the discount is fen off the whole line.
    unit_price: Mapped[int] = mapped_column(Integer)
    #: The product's list price per unit when the order was taken (fen).
    list_price: Mapped[int] = mapped_column(Integer, default=0)
    discount: Mapped[int] = mapped_column(Integer, default=0)
    #: Taken home now (issued from the warehouse) or left in the company's custody.
    taken: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)
    #: Returned so far (the sum of the line's returns).
    returned: Mapped[int] = mapped_column(Integer, default=0)
    #: Fen per unit the goods held count at in the cost of goods sold when they were left in a
    #: pooled warehouse's custody (a promise: nothing moved, no batch set aside): the product's
    #: standard cost when the order was handed over. NULL when nothing was promised — goods
    #: taken home or put on a reserved custody shelf count by their stock moves (models.orders
    #: .cogs).
    held_unit_cost: Mapped[int | None] = mapped_column(Integer)

    order = relationship("Order", back_populates="lines")
    product = relationship("Product", lazy="joined")
    package = relationship("Package", lazy="select")

    @property
    def amount(self):
        return self.quantity * self.unit_price - self.discount


class Payment(TokenMixin, db.Model):
    """One entry of the payments ledger. Append-only; a mistake is reversed by finance."""
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        CheckConstraint("kind IN ('deposit', 'balance', 'full', 'refund', 'reversal')",
                        name="known_kind"),
        CheckConstraint("(kind IN ('deposit', 'balance', 'full')) = (amount > 0) OR "
                        "kind = 'reversal'", name="sign_follows_kind"),
        Index("ix_payments_cashier_at", "cashier_id", "at"),
        # The day's or period's payments, covering what the reports sum per order (money
        # received and paid back): read from the index alone.
        Index("ix_payments_at_order_kind_amount", "at", "order_id", "kind", "amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    method: Mapped[str] = mapped_column(String(10))
    #: Fen, signed: receipts positive, refunds negative, a reversal the opposite of its entry.
    amount: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    #: Who took (or paid out) the money: the cashier whose day it belongs to.
    cashier_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: Refunds: the manager or finance clerk who approved.
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When the money changed hands (finance may enter an earlier day: it joins that day's open
    #: session of the daily close).
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), unique=True)
    return_id: Mapped[int | None] = mapped_column(ForeignKey("order_returns.id"))

    order = relationship("Order", back_populates="payments", lazy="select")
    cashier = relationship("User", foreign_keys=[cashier_id], lazy="joined")
    approved_by = relationship("User", foreign_keys=[approved_by_id], lazy="select")


class OrderReturn(TokenMixin, db.Model):
    """Goods a customer brought back (退货): into a warehouse and batch, or scrapped."""
    __tablename__ = "order_returns"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),
                      CheckConstraint("disposition IN ('restock', 'scrap')",
                                      name="known_disposition"),
                      # The goods brought back in a period (the home page's sales, week by
                      # week), read from the index alone.
                      Index("ix_order_returns_at_value", "at", "value"))

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    #: Of which were still in custody (nothing to move back: they never left).
    from_held: Mapped[int] = mapped_column(Integer, default=0)
    disposition: Mapped[str] = mapped_column(String(10), default="restock")
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    #: Fen: the share of the line's amount the goods returned were sold for.
    value: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    line = relationship("OrderLine", lazy="joined")
    approved_by = relationship("User", foreign_keys=[approved_by_id], lazy="joined")


class CashClose(db.Model):
    """One session of a cashier's day, closed by finance (日结 #1, #2 …): what the ledger says by
    method for the entries it covers, what the cashier counted, the difference.

    A close covers the cashier's entries of the day recorded by its time that no standing
    (not reopened) close of the day covers; an entry recorded later (a deposit after the close,
    a back-dated entry by finance) falls into the day's next session. Nothing is refused because
    a close happened. A manager may reopen a close (with a reason): it stays on record, marked
    reopened, and its entries go back into the day's open session for the next close."""
    __tablename__ = "cash_closes"
    __table_args__ = (UniqueConstraint("cashier_id", "day", "session"),
                      CheckConstraint("session > 0", name="session_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    cashier_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    day: Mapped[date] = mapped_column(Date, index=True)
    #: The session's number within the cashier's day: 1, 2, … (日结 #2).
    session: Mapped[int] = mapped_column(Integer, default=1)
    #: {method: {"received": fen, "refunded": fen, "net": fen}} of the entries it covers.
    expected: Mapped[dict] = mapped_column(JSON)
    #: {method: fen} the cashier declared counted.
    declared: Mapped[dict] = mapped_column(JSON)
    expected_total: Mapped[int] = mapped_column(Integer)
    declared_total: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200), default="")
    closed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set when a manager reopened the close: its entries are back in the day's open session.
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reopen_reason: Mapped[str] = mapped_column(String(200), default="")

    cashier = relationship("User", foreign_keys=[cashier_id], lazy="joined")
    closed_by = relationship("User", foreign_keys=[closed_by_id], lazy="joined")
    reopened_by = relationship("User", foreign_keys=[reopened_by_id], lazy="select")
    #: The ledger entries it covered, in the order they happened.
    entries = relationship("Payment", secondary="cash_close_payments", viewonly=True,
                           order_by="(Payment.at, Payment.id)", lazy="select")

    @property
    def difference(self):
        return self.declared_total - self.expected_total

    @property
    def is_reopened(self):
        return self.reopened_at is not None


class CashClosePayment(db.Model):
    """A ledger entry a close covered. Written with the close and never changed: a reopened
    close keeps what it covered, and the entry is covered again by a later close."""
    __tablename__ = "cash_close_payments"

    close_id: Mapped[int] = mapped_column(ForeignKey("cash_closes.id"), primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), primary_key=True,
                                            index=True)

"""The commission tables: the rates per product category and package, a month's run and its
lines. The definitions of what they hold are in models/commission/__init__.py."""
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index,
                        Integer, String, UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow

RATE_SCOPES = {"category": _l("Product category"), "package": _l("Package")}
RUN_STATUSES = {"draft": _l("Draft"), "approved": _l("Approved (locked)")}
#: What a line is: the seller's commission on a payment, the developer's share of it, or a
#: return listed with its value (its money comes back through the refund line).
LINE_ROLES = {"sale": _l("Sale"), "developer": _l("Developer's share"),
              "return": _l("Return")}
#: A rate in basis points: 10,000 = 100 %.
FULL_RATE_BP = 10_000


class CommissionRate(db.Model):
    """A rate that replaces the default for the lines of one product category or one package
    (a package's rate comes first)."""
    __tablename__ = "commission_rates"
    __table_args__ = (
        UniqueConstraint("scope", "subject_id", name="uq_commission_rates_subject"),
        CheckConstraint("scope IN ('category', 'package')", name="known_scope"),
        CheckConstraint("rate_bp >= 0 AND rate_bp <= 10000", name="rate_within_100_percent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "category" (subject_id a product category) or "package" (subject_id a package).
    scope: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[int] = mapped_column(Integer)
    #: Basis points of the money collected: 300 = 3 %.
    rate_bp: Mapped[int] = mapped_column(Integer)
    set_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CommissionRun(db.Model):
    """One month's commission for every marketer: a draft (recomputed at will) until finance
    approves it, which locks it for good."""
    __tablename__ = "commission_runs"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'approved')", name="known_status"),
        CheckConstraint("(status = 'approved') = (approved_at IS NOT NULL)",
                        name="approved_has_time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The 1st of the month (company days); one run per month.
    month: Mapped[date] = mapped_column(Date, unique=True)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    computed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The rules it was computed with (rates, tiers, the developer's share): a draft whose
    #: rules changed since is stale.
    rules: Mapped[dict] = mapped_column(JSON)
    #: {marketer id (text): {"target": fen or None, "collected": fen, "multiplier": percent}}
    #: — each marketer's money-collected attainment of the month and the tier it gave.
    summary: Mapped[dict] = mapped_column(JSON)
    #: Fen: the sum of the lines' commission.
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The payments dated in the month it counted, and those dated before it (recorded after
    #: the month before was locked): approval checks nothing was recorded since.
    payments: Mapped[int] = mapped_column(Integer, default=0)
    late_payments: Mapped[int] = mapped_column(Integer, default=0)

    computed_by = relationship("User", foreign_keys=[computed_by_id], lazy="joined")
    approved_by = relationship("User", foreign_keys=[approved_by_id], lazy="joined")

    @property
    def is_locked(self):
        return self.status == "approved"


class CommissionLine(db.Model):
    """One payment's (or return's) commission for one marketer in a run."""
    __tablename__ = "commission_lines"
    __table_args__ = (
        CheckConstraint("role IN ('sale', 'developer', 'return')", name="known_role"),
        CheckConstraint("(role = 'return') = (payment_id IS NULL)", name="payment_or_return"),
        UniqueConstraint("run_id", "payment_id", "role", name="uq_commission_lines_payment"),
        # Never twice: a payment earns each kind of line once over all the locked runs (a
        # payment recorded after its month was locked goes into the next month's run).
        # (Written as each database renders `CommissionLine.locked` in a query, so that the
        # query "not counted by a locked run" finds its payments here.)
        Index("ix_commission_lines_locked_payment", "payment_id", "role", unique=True,
              sqlite_where=text("locked = 1"), postgresql_where=text("locked")),
        Index("ix_commission_lines_run_marketer", "run_id", "marketer_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("commission_runs.id", ondelete="CASCADE"))
    #: Who earns it: the order's marketer (sale, return) or the customer's developer.
    marketer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(10))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    return_id: Mapped[int | None] = mapped_column(ForeignKey("order_returns.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    #: The payment's kind; a reversal's is the kind of the entry it reverses ("return" for a
    #: return).
    kind: Mapped[str] = mapped_column(String(10))
    #: When the money changed hands (the payment's `at`), or the goods came back.
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Dated before the run's month: recorded after that month was locked.
    is_late: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Fen, signed: money received +, paid back −; a return's value − (earning nothing).
    base: Mapped[int] = mapped_column(BigInteger)
    rate_bp: Mapped[int] = mapped_column(Integer)
    #: Percent: the tier of the month's attainment (sale lines), else 100.
    multiplier: Mapped[int] = mapped_column(Integer, default=100)
    #: Fen: base × rate × multiplier, rounded half away from zero.
    commission: Mapped[int] = mapped_column(BigInteger)
    #: Copied from the run when finance approves it, so that the unique index above covers the
    #: locked lines only.
    locked: Mapped[bool] = mapped_column(Boolean, default=False)

    marketer = relationship("User", lazy="select")

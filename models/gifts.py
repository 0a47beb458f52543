"""Gifts (赠品管理): attendance gifts at the door and buy-X-get-gift with orders, each one a
recorded issue with its own gift-issue stock move, costed and charged to its event and marketer.

Rules belong to an event (or to the whole company, for shop sales). An attendance rule gives
each arrival (or each invited arrival) a gift, and optionally one per companion. A purchase rule
gives M of a gift product when an order has N of a product, or a package, or spends at least ¥X;
rules in the same exclusive group compete and only the most valuable applies. Staff may drop a
proposed gift; a gift outside the rules needs a manager.

A gift issue is never edited: a mistaken one is reversed by an issue that names it, with a
reversing stock move (the goods come back).
"""
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import (Boolean, CheckConstraint, ForeignKey, Index, Integer, String, case,
                        func, select, text)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (Mapped, aliased, joinedload, lazyload, load_only, mapped_column,
                            relationship)

from extensions import db
from formatting import fen, local_dt
from models import inventory as inv
from models.accounts import User
from models.audit import audit, register_actions, register_targets
from models.base import (Conflict, InvalidInput, NotFound, PermissionDenied, TokenMixin,
                         UTCDateTime, lock_row, utcnow)
# An attendance gift is given for a check-in, a purchase gift for an order, and the cost per
# arrival and per deal reads them: gifts read those tables (a documented exception in
# .importlinter).
from models.checkin import CheckIn
from models.customers import Customer, search_clause, visible_customers
from models.events import Event, Invitation
from models.ledgers import register_check
from models.orders import Order
from models.settings import define, define_area, get_setting
from models.timeline import TimelineItem, register_provider

RULE_KINDS = {"attendance": _l("Attendance gift"), "purchase": _l("Purchase gift")}
ATTENDANCE_FOR = {"arrival": _l("Every arrival"), "invited": _l("Invited customers who come")}
CONDITIONS = {"product": _l("Buys N of a product"), "package": _l("Buys a package"),
              "spend": _l("Spends at least")}
#: When a purchase gift may be handed over.
WAITS = {"nothing": _l("At once, with the order"), "deposit": _l("Once a deposit is paid"),
         "paid": _l("Once the order is paid in full")}
ISSUE_KINDS = {"attendance": _l("Attendance gift"), "companion": _l("Companion gift"),
               "purchase": _l("Purchase gift"), "manual": _l("Gift approved by a manager"),
               "referral": _l("Referral reward")}
DOCUMENT = "gift_issues"
GIFT_ROLES = ("admin", "manager", "event_staff", "warehouse", "marketer", "dept_head")
RULE_ROLES = ("manager",)


class GiftRule(db.Model):
    __tablename__ = "gift_rules"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("companion_quantity >= 0", name="companion_not_negative"),
        CheckConstraint("min_quantity >= 0 AND min_spend >= 0", name="thresholds_not_negative"),
        CheckConstraint("kind IN ('attendance', 'purchase')", name="known_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: NULL: a company-wide rule (shop sales).
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(60), default="")
    #: Attendance: "arrival" or "invited".
    attendance_for: Mapped[str] = mapped_column(String(10), default="arrival")
    #: Purchase: "product", "package" or "spend", with its threshold.
    condition: Mapped[str] = mapped_column(String(10), default="")
    condition_product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    condition_package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))
    min_quantity: Mapped[int] = mapped_column(Integer, default=0)
    min_spend: Mapped[int] = mapped_column(Integer, default=0)
    #: Given again for every further N bought (buy 2 get 1, buy 4 get 2).
    repeats: Mapped[bool] = mapped_column(Boolean, default=False)
    #: "Buy N" counts the product also inside packages bought (else only bought on its own).
    counts_packages: Mapped[bool] = mapped_column(Boolean, default=False)
    #: When a purchase gift may be handed over: at once, once a deposit is paid (the default),
    #: or once the order is paid in full (WAITS).
    waits_for: Mapped[str] = mapped_column(String(8), default="deposit")
    #: Rules sharing a group compete: only the most valuable one applies.
    exclusive_group: Mapped[str] = mapped_column(String(20), default="")
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    #: Attendance: a gift per companion who came (0: none).
    companion_quantity: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product = relationship("Product", foreign_keys=[product_id], lazy="joined")
    condition_product = relationship("Product", foreign_keys=[condition_product_id],
                                     lazy="joined")
    condition_package = relationship("Package", lazy="joined")

    @property
    def label(self):
        if self.kind == "attendance":
            return _("%(for)s: %(gift)s × %(n)s", **{"for": ATTENDANCE_FOR[self.attendance_for],
                                                     "gift": self.product.name,
                                                     "n": self.quantity})
        if self.condition == "product":
            condition = _("buy %(n)s %(product)s", n=self.min_quantity,
                          product=self.condition_product.name)
            if self.counts_packages:
                condition += _(" (in packages too)")
        elif self.condition == "package":
            condition = _("buy the %(package)s package", package=self.condition_package.name)
        else:
            condition = _("spend %(amount)s", amount=fen(self.min_spend))
        return _("%(condition)s, get %(gift)s × %(n)s", condition=condition,
                 gift=self.product.name, n=self.quantity)


class GiftIssue(TokenMixin, db.Model):
    """A gift handed to a customer (or its reversal). Append-only."""
    __tablename__ = "gift_issues"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # One attendance gift per customer per event: the database refuses a second.
        Index("uq_gift_issues_attendance", "event_id", "customer_id", unique=True,
              sqlite_where=text("kind = 'attendance' AND reverses_id IS NULL"),
              postgresql_where=text("kind = 'attendance' AND reverses_id IS NULL")),
        Index("ix_gift_issues_event_at", "event_id", "at"),
        Index("ix_gift_issues_marketer_at", "marketer_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("gift_rules.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    #: The marketer charged with the gift: the order's, else the customer's owner.
    marketer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: A gift outside the rules: the manager who approved it.
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Fen: what the goods cost (the batches' unit cost × quantity).
    cost: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(String(200), default="")
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("gift_issues.id"), unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product = relationship("Product", lazy="joined")
    customer = relationship("Customer", lazy="joined")
    staff = relationship("User", foreign_keys=[staff_id], lazy="joined")
    marketer = relationship("User", foreign_keys=[marketer_id], lazy="select")
    rule = relationship("GiftRule", lazy="select")

    @property
    def signed_quantity(self):
        return -self.quantity if self.reverses_id else self.quantity

    @property
    def signed_cost(self):
        return -self.cost if self.reverses_id else self.cost


# --- Rules -----------------------------------------------------------------------------------

def save_rule(rule, *, event, kind, product, quantity, actor, name="", attendance_for="arrival",
              companion_quantity=0, condition="", condition_product=None, condition_package=None,
              min_quantity=0, min_spend=0, repeats=False, exclusive_group="", is_active=True,
              counts_packages=False, waits_for="deposit"):
    """Create (rule=None) or change a gift rule."""
    if not actor.has_role(*RULE_ROLES):
        raise PermissionDenied(_("Only a manager sets gift rules."))
    if kind not in RULE_KINDS:
        raise InvalidInput(_("Choose the kind of gift."), field="kind")
    if product is None:
        raise InvalidInput(_("Choose the gift."), field="product")
    if not product.is_gift or not product.is_active:
        raise InvalidInput(_("%(name)s is not flagged as a gift in the catalogue.",
                             name=product.name), field="product")
    for value, field in ((quantity, "quantity"), (companion_quantity, "companion_quantity"),
                         (min_quantity, "min_quantity"), (min_spend, "min_spend")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0 or \
                value > 100_000_000:
            raise InvalidInput(_("Quantities and amounts are whole numbers, 0 or more."),
                               field=field)
    if quantity == 0:
        raise InvalidInput(_("Give at least one."), field="quantity")
    if kind == "attendance":
        if attendance_for not in ATTENDANCE_FOR:
            raise InvalidInput(_("Choose who gets the gift."), field="attendance_for")
        if event is None:
            raise InvalidInput(_("An attendance gift belongs to an event."), field="kind")
        condition, condition_product, condition_package = "", None, None
        min_quantity = min_spend = 0
    else:
        companion_quantity = 0
        if condition not in CONDITIONS:
            raise InvalidInput(_("Choose what earns the gift."), field="condition")
        if condition == "product" and (condition_product is None or min_quantity < 1):
            raise InvalidInput(_("Name the product and how many must be bought (1 or more)."),
                               field="min_quantity")
        if condition == "package" and condition_package is None:
            raise InvalidInput(_("Choose the package."), field="condition_package")
        if condition == "spend" and min_spend < 1:
            raise InvalidInput(_("Enter the amount to spend."), field="min_spend")
        if waits_for not in WAITS:
            raise InvalidInput(_("Choose when the gift may be handed over."), field="waits_for")
    rule = rule or GiftRule(created_by_id=actor.id)
    rule.event_id = event.id if event else None
    rule.kind, rule.name = kind, (name or "").strip()[:60]
    rule.attendance_for, rule.companion_quantity = attendance_for, companion_quantity
    rule.condition = condition
    rule.condition_product_id = condition_product.id if condition_product else None
    rule.condition_package_id = condition_package.id if condition_package else None
    rule.min_quantity, rule.min_spend, rule.repeats = min_quantity, min_spend, bool(repeats)
    rule.counts_packages = bool(counts_packages) and condition == "product"
    rule.waits_for = waits_for if kind == "purchase" else "nothing"
    rule.exclusive_group = (exclusive_group or "").strip()[:20]
    rule.product_id, rule.quantity, rule.is_active = product.id, quantity, bool(is_active)
    db.session.add(rule)
    db.session.flush()
    db.session.refresh(rule)
    audit(actor, "gift.rule", rule, summary=rule.label)
    return rule


def rules_for(event, kind=None, active_only=True):
    """An event's rules and the company-wide ones (for purchase gifts)."""
    clause = GiftRule.event_id.is_(None)
    if event is not None:
        clause = clause | (GiftRule.event_id == event.id)
    query = select(GiftRule).where(clause).order_by(GiftRule.kind, GiftRule.id)
    if kind:
        query = query.where(GiftRule.kind == kind)
    if active_only:
        query = query.where(GiftRule.is_active.is_(True))
    return db.session.scalars(query).all()


def attendance_rules(event):
    """The event's own active attendance gift rules (the first one that fits is given)."""
    return db.session.scalars(
        select(GiftRule).where(GiftRule.event_id == event.id, GiftRule.kind == "attendance",
                               GiftRule.is_active.is_(True)).order_by(GiftRule.id)
        .options(*attendance_rule_loading())).all()


def attendance_rule_loading():
    """An attendance rule needs its product, not the conditions of purchase rules."""
    return (joinedload(GiftRule.product).lazyload("*"), lazyload(GiftRule.condition_product),
            lazyload(GiftRule.condition_package))


def door_rule_loading():
    """The door's attendance rule as the tablet shows it (door_state, door.gift_facts): which
    product, how many, for whom — 9 columns, not the rule's 20 and its product's 22 (each
    column costs the door's busiest query CPU, gift or none). Any other column is read when
    something asks for it; giving the gift reads the rules whole (attendance_rules)."""
    return (load_only(GiftRule.event_id, GiftRule.kind, GiftRule.is_active,
                      GiftRule.attendance_for, GiftRule.product_id, GiftRule.quantity,
                      GiftRule.companion_quantity),
            joinedload(GiftRule.product).load_only(inv.Product.name).lazyload("*"),
            lazyload(GiftRule.condition_product), lazyload(GiftRule.condition_package))


#: One alias for good: a new alias on every call measured a millisecond more CPU per door scan.
_FIRST_RULE = aliased(GiftRule)


def first_attendance_rule_id(event_id):
    """The id of the rule the door offers at an event (its first active attendance rule), as a
    subquery correlated on `event_id` (a column), for loading it with the event."""
    rule = _FIRST_RULE
    return select(rule.id).where(rule.event_id == event_id, rule.kind == "attendance",
                                 rule.is_active.is_(True)).order_by(rule.id).limit(1) \
        .scalar_subquery()


def _main_warehouse():
    return select(inv.Warehouse).where(inv.Warehouse.is_active.is_(True)) \
        .order_by(inv.Warehouse.kind != "main", inv.Warehouse.id).limit(1)


def event_warehouse(event):
    """Where an event's gifts come from: its own warehouse, else the main one."""
    if event is not None and event.warehouse_id:
        return db.session.get(inv.Warehouse, event.warehouse_id)
    return db.session.scalar(_main_warehouse())


def gift_left(event, product):
    """How many of a gift are free at the event's warehouse (event_warehouse), in one query:
    the door reads it under every check-in."""
    warehouse_id = event.warehouse_id or \
        _main_warehouse().with_only_columns(inv.Warehouse.id).scalar_subquery()
    return db.session.scalar(
        select(func.coalesce(func.sum(inv.StockQuant.quantity), 0))
        .join(inv.Location, inv.Location.id == inv.StockQuant.location_id)
        .where(inv.Location.warehouse_id == warehouse_id, inv.Location.kind == "stock",
               inv.StockQuant.product_id == product.id))


def set_event_warehouse(event, warehouse, *, actor):
    if not actor.has_role(*RULE_ROLES, "admin"):
        raise PermissionDenied(_("Only a manager sets gift rules."))
    inv.stock._check_warehouse(warehouse)
    event.warehouse_id = warehouse.id
    db.session.flush()
    audit(actor, "gift.event_warehouse", event, summary=warehouse.name)


# --- Purchase rules: what a cart earns -------------------------------------------------------

def earned(rule, cart):
    """How many times `rule` is earned by `cart` = {"products": {product_id: qty},
    "packages": {package_id: count}, "spend": fen}."""
    if rule.condition == "product":
        bought = cart["products" if rule.counts_packages else "loose"].get(
            rule.condition_product_id, 0)
        if bought < rule.min_quantity:
            return 0
        return bought // rule.min_quantity if rule.repeats else 1
    if rule.condition == "package":
        count = cart["packages"].get(rule.condition_package_id, 0)
        return (count if rule.repeats else 1) if count else 0
    if rule.condition == "spend":
        if cart["spend"] < rule.min_spend:
            return 0
        return cart["spend"] // rule.min_spend if rule.repeats else 1
    return 0


def propose(rules, cart):
    """The best applicable set: [(rule, quantity)]. Every earned rule applies, except that in
    an exclusive group only the most valuable (gift cost × quantity; then the lower id) does."""
    earned_rules = [(rule, earned(rule, cart) * rule.quantity) for rule in rules
                    if rule.kind == "purchase" and rule.is_active]
    earned_rules = [(rule, quantity) for rule, quantity in earned_rules if quantity]
    best = {}
    chosen = []
    for rule, quantity in earned_rules:
        if not rule.exclusive_group:
            chosen.append((rule, quantity))
            continue
        value = (quantity * rule.product.standard_cost, -rule.id)
        if rule.exclusive_group not in best or value > best[rule.exclusive_group][0]:
            best[rule.exclusive_group] = (value, rule, quantity)
    chosen += [(rule, quantity) for _value, rule, quantity in best.values()]
    return sorted(chosen, key=lambda pair: pair[0].id)


def cart_of(order, *, after_returns=True):
    """An order as a cart: products bought (less what was returned) — all of them, and those
    bought on their own (`loose`, not as part of a package) — packages and spend."""
    products, loose, packages = {}, {}, {}
    for line in order.lines:
        kept = line.quantity - (line.returned if after_returns else 0)
        products[line.product_id] = products.get(line.product_id, 0) + kept
        if not line.package_id:
            loose[line.product_id] = loose.get(line.product_id, 0) + kept
    for line in order.lines:
        if line.package_id:
            item = next((i for i in line.package.items if i.product_id == line.product_id), None)
            if item:
                count = (line.quantity - (line.returned if after_returns else 0)) // item.quantity
                packages[line.package_id] = min(packages.get(line.package_id, count), count)
    spend = order.total - (order.returned_value if after_returns else 0)
    return {"products": products, "loose": loose, "packages": packages, "spend": spend}


def waiting_for(rule, order):
    """Why a purchase gift of `rule` cannot be handed over yet on `order` ("" if it can)."""
    if rule.waits_for == "deposit" and order.paid <= 0:
        return _("after the deposit")
    if rule.waits_for == "paid" and order.balance_due > 0:
        return _("once paid in full")
    return ""


# --- Issuing ---------------------------------------------------------------------------------

def _issue(*, kind, customer, product, quantity, warehouse, actor, token=None, event=None,
           order=None, rule=None, marketer=None, approved_by=None, note="",
           confirm_below_promise=False, now=None):
    """Write one gift issue and its stock move(s) (FEFO, never an expired batch); below what a
    pooled warehouse promised customers only when `confirm_below_promise`."""
    now = now or utcnow()
    issue = GiftIssue(kind=kind, event_id=event.id if event else None, customer_id=customer.id,
                      order_id=order.id if order else None, rule_id=rule.id if rule else None,
                      product_id=product.id, quantity=quantity,
                      marketer_id=(marketer or customer.owner).id
                      if (marketer or customer.owner) else None,
                      warehouse_id=warehouse.id, staff_id=actor.id,
                      approved_by_id=approved_by.id if approved_by else None,
                      note=(note or "")[:200], at=now, token=token or None)
    with db.session.begin_nested():
        db.session.add(issue)
        db.session.flush()
        moves = inv.issue(product=product, quantity=quantity, warehouse=warehouse,
                          reason="gift_issue", actor=actor, customer=customer, event=event,
                          document=(DOCUMENT, issue.id),
                          confirm_below_promise=confirm_below_promise, now=now)
        issue.cost = sum(move.value for move in moves)
    return issue


def attendance_gift_of(event, customer):
    return db.session.scalar(select(GiftIssue).where(
        GiftIssue.event_id == event.id, GiftIssue.customer_id == customer.id,
        GiftIssue.kind == "attendance", GiftIssue.reverses_id.is_(None)))


def issue_attendance_gifts(event, customer, *, actor, token, now=None):
    """One tap at the door: the attendance gift (and companion gifts) for a customer who has
    checked in. A second tap, tablet or resubmission returns the first issue."""
    if not actor.has_role(*GIFT_ROLES):
        raise PermissionDenied(_("You may not hand out gifts."))
    if (prior := GiftIssue.by_token(token)) is not None:
        return prior
    if (prior := attendance_gift_of(event, customer)) is not None:
        return prior
    check_in = db.session.scalar(select(CheckIn).where(CheckIn.event_id == event.id,
                                                       CheckIn.customer_id == customer.id))
    if check_in is None:
        raise Conflict(_("%(name)s has not checked in at this event: check them in first.",
                         name=customer.name))
    rules = attendance_rules(event)
    if not rules:
        raise Conflict(_("This event has no attendance gift. A manager sets it on the event's "
                         "gift page."))
    walk_in = check_in.invitation.is_walk_in
    rules = [rule for rule in rules if rule.attendance_for == "arrival" or not walk_in]
    if not rules:
        raise Conflict(_("The attendance gift of this event is for invited customers only."))
    warehouse = event_warehouse(event)
    rule = rules[0]  # one attendance gift per customer per event: the first rule that fits
    # The door is never held up over a pooled warehouse's promises (its staff cannot decide
    # them): a shortfall it leaves is on the warehouse's nightly list.
    try:
        first = _issue(kind="attendance", customer=customer, product=rule.product,
                       quantity=rule.quantity, warehouse=warehouse, actor=actor, token=token,
                       event=event, rule=rule, confirm_below_promise=True, now=now)
    except IntegrityError:  # the other tablet won, or this token was just written
        prior = GiftIssue.by_token(token) or attendance_gift_of(event, customer)
        if prior is None:
            raise
        return prior
    if rule.companion_quantity and check_in.companions:
        _issue(kind="companion", customer=customer, product=rule.product,
               quantity=rule.companion_quantity * check_in.companions, warehouse=warehouse,
               actor=actor, event=event, rule=rule, confirm_below_promise=True, now=now)
    audit(actor, "gift.attendance", first, summary=f"{customer.name} {rule.product.name}",
          now=now)
    return first


class AttendanceGiftGiven(Conflict):
    """The guest had the attendance gift already: from another screen, the door, or a tap on a
    page drawn before that. `issue` is that first gift."""

    def __init__(self, issue):
        super().__init__(_("%(name)s already received the attendance gift at %(time)s from "
                           "%(who)s.", name=issue.customer.name,
                           time=local_dt(issue.at, "%H:%M"), who=issue.staff.display_name))
        self.issue = issue


def give_at_desk(event, customer, *, actor, token, now=None):
    """The gift desk's one tap (and the door tablet's gift): issue_attendance_gifts, except that
    a guest who had the gift already (not by this very form) raises AttendanceGiftGiven, so the
    screen that lost a race says who gave it and when. A resubmission of the same form returns
    its own issue."""
    issue = issue_attendance_gifts(event, customer, actor=actor, token=token, now=now)
    if issue.token != token:
        raise AttendanceGiftGiven(issue)
    return issue


def purchase_gifts_of(order):
    return db.session.scalars(select(GiftIssue).where(
        GiftIssue.order_id == order.id, GiftIssue.reverses_id.is_(None),
        ~GiftIssue.id.in_(select(GiftIssue.reverses_id).where(
            GiftIssue.reverses_id.is_not(None)))).order_by(GiftIssue.id)).all()


def order_gifts(order):
    """Every gift issue of an order, reversals included, oldest first."""
    return db.session.scalars(select(GiftIssue).where(GiftIssue.order_id == order.id)
                              .order_by(GiftIssue.id)).all()


def proposal_for(order):
    """[(rule, quantity)] the order earns and has not been given yet."""
    event = db.session.get(Event, order.event_id) if order.event_id else None
    given = {issue.rule_id for issue in purchase_gifts_of(order) if issue.rule_id}
    return [(rule, quantity) for rule, quantity in propose(rules_for(event, "purchase"),
                                                            cart_of(order))
            if rule.id not in given]


def _check_order_stands(order):
    """Gifts go with an order that stands: not a cancelled one, nor a large order waiting for
    its confirmation (orders.safeguards: no goods leave until then)."""
    if order.status != "open":
        raise Conflict(_("Order %(number)s is cancelled.", number=order.number))
    if order.is_pending:
        raise Conflict(_("Order %(number)s is a large order waiting for a department head's "
                         "or manager's confirmation: nothing can be paid or handed over yet.",
                         number=order.number))


def issue_purchase_gifts(order, *, rule_ids, actor, token, confirm_below_promise=False,
                         now=None):
    """Issue the proposed gifts of an order that staff kept (rule_ids ⊆ the proposal); below
    what a pooled warehouse promised only when `confirm_below_promise`."""
    if not actor.has_role(*GIFT_ROLES):
        raise PermissionDenied(_("You may not hand out gifts."))
    order = lock_row(order)  # a second tap or tablet waits here, then finds the first result
    if token and (prior := GiftIssue.by_token(token)) is not None:
        return [prior]
    _check_order_stands(order)
    proposal = {rule.id: (rule, quantity) for rule, quantity in proposal_for(order)}
    unknown = set(rule_ids) - set(proposal)
    if unknown:
        raise PermissionDenied(_("Only the gifts the rules propose can be given; a manager "
                                 "approves anything else."))
    for rule_id in sorted(rule_ids):
        rule = proposal[rule_id][0]
        if (wait := waiting_for(rule, order)):
            raise Conflict(_("%(gift)s is handed over %(when)s.", gift=rule.product.name,
                             when=wait))
    event = db.session.get(Event, order.event_id) if order.event_id else None
    warehouse = db.session.get(inv.Warehouse, order.warehouse_id)
    issues = []
    for index, rule_id in enumerate(sorted(rule_ids)):
        rule, quantity = proposal[rule_id]
        issues.append(_issue(kind="purchase", customer=order.customer, product=rule.product,
                             quantity=quantity, warehouse=warehouse, actor=actor,
                             token=token if index == 0 else None, event=event, order=order,
                             rule=rule, marketer=order.marketer,
                             confirm_below_promise=confirm_below_promise, now=now))
    if issues:
        audit(actor, "gift.purchase", order, summary=f"{order.number}: " + "、".join(
            f"{i.product.name}×{i.quantity}" for i in issues), now=now)
    return issues


def issue_manual_gift(order, *, product, quantity, actor, token, note,
                      confirm_below_promise=False, now=None):
    """A gift outside the rules, approved (and given) by a manager; below what a pooled
    warehouse promised only when `confirm_below_promise`."""
    if not actor.has_role("manager"):
        raise PermissionDenied(_("Only the gifts the rules propose can be given; a manager "
                                 "approves anything else."))
    order = lock_row(order)
    if token and (prior := GiftIssue.by_token(token)) is not None:
        return prior
    _check_order_stands(order)
    if product is None or not product.is_gift:
        raise InvalidInput(_("Choose a product flagged as a gift."), field="product")
    inv.check_quantity(quantity)
    if not (note or "").strip():
        raise InvalidInput(_("Say why the gift is given."), field="note")
    event = db.session.get(Event, order.event_id) if order.event_id else None
    issue = _issue(kind="manual", customer=order.customer, product=product, quantity=quantity,
                   warehouse=db.session.get(inv.Warehouse, order.warehouse_id), actor=actor,
                   token=token, event=event, order=order, marketer=order.marketer,
                   approved_by=actor, note=note.strip(),
                   confirm_below_promise=confirm_below_promise, now=now)
    audit(actor, "gift.manual", order, summary=f"{order.number}: {product.name}×{quantity}",
          now=now)
    return issue


def reverse_gift(issue, *, reason, actor, now=None):
    """Take a gift back (a mistake at the door, or a returned order): the goods return to the
    warehouse and the gift's cost leaves its event and marketer."""
    if not actor.has_role("warehouse", "manager", "finance"):
        raise PermissionDenied(_("Gifts are taken back by the warehouse or a manager."))
    if not (reason or "").strip():
        raise InvalidInput(_("Say why the gift is taken back."), field="reason")
    issue = lock_row(issue)
    if issue.reverses_id is not None:
        raise Conflict(_("This is itself a reversal."))
    if db.session.scalar(select(GiftIssue.id).where(GiftIssue.reverses_id == issue.id)):
        raise Conflict(_("This gift has already been taken back."))
    now = now or utcnow()
    reversal = GiftIssue(kind=issue.kind, event_id=issue.event_id, customer_id=issue.customer_id,
                         order_id=issue.order_id, rule_id=issue.rule_id,
                         product_id=issue.product_id, quantity=issue.quantity,
                         marketer_id=issue.marketer_id, warehouse_id=issue.warehouse_id,
                         staff_id=actor.id, cost=issue.cost, note=reason.strip()[:200],
                         reverses_id=issue.id, at=now)
    try:
        with db.session.begin_nested():
            db.session.add(reversal)
            db.session.flush()
            for move in db.session.scalars(select(inv.StockMove).where(
                    inv.StockMove.document_type == DOCUMENT,
                    inv.StockMove.document_id == issue.id,
                    inv.StockMove.reverses_id.is_(None))):
                inv.reverse(move, actor=actor, note=reason, document=(DOCUMENT, reversal.id),
                            now=now)
            db.session.flush()
    except IntegrityError:
        raise Conflict(_("This gift has already been taken back.")) from None
    audit(actor, "gift.reverse", issue, summary=f"{issue.product.name}×{issue.quantity}: "
          f"{reason.strip()}", now=now)
    return reversal


def after_return(order, *, actor, now=None):
    """After goods of an order come back, or the order is cancelled (it earns nothing then):
    purchase gifts the order no longer earns are taken back too, or (setting) their cost stays
    as a charge on the return. Returns the gifts taken back."""
    if get_setting("gifts.on_return") != "return":
        return []
    event = db.session.get(Event, order.event_id) if order.event_id else None
    still = {} if order.status == "cancelled" else {
        rule.id: quantity for rule, quantity in propose(rules_for(event, "purchase"),
                                                        cart_of(order))}
    taken_back = []
    for issue in purchase_gifts_of(order):
        if issue.kind == "purchase" and issue.rule_id not in still:
            taken_back.append(reverse_gift(issue, reason=_("Order %(number)s returned",
                                                           number=order.number),
                                           actor=actor, now=now))
    return taken_back


# --- Reads -----------------------------------------------------------------------------------

def _ledger_rows(event, user):
    """The WHERE clause of an event's gift issues; with `user`, only those to customers the
    user may see (a department head: their department's; the event's totals stay whole)."""
    clauses = [GiftIssue.event_id == event.id]
    if user is not None:
        clauses.append(GiftIssue.customer_id.in_(
            visible_customers(user).with_only_columns(Customer.id)))
    return clauses


def event_ledger(event, limit=None, user=None):
    """The event's gift issues, newest first (the latest `limit` of them); with `user`, only
    the gifts to customers `user` may see."""
    return db.session.scalars(select(GiftIssue).where(*_ledger_rows(event, user))
                              .order_by(GiftIssue.at.desc(), GiftIssue.id.desc())
                              .limit(limit)).all()


def ledger_size(event, user=None):
    """How many gift issues event_ledger(event, user=user) has in all."""
    return db.session.scalar(select(func.count()).select_from(GiftIssue).where(
        *_ledger_rows(event, user)))


def _signed(column):
    return case((GiftIssue.reverses_id.is_(None), column), else_=-column)


def summary_by_product(event):
    """[(product name, unit, quantity, cost)] of an event's gifts, net of reversals."""
    return db.session.execute(
        select(inv.Product.name, inv.Product.unit, func.sum(_signed(GiftIssue.quantity)),
               func.sum(_signed(GiftIssue.cost)))
        .join(inv.Product, GiftIssue.product_id == inv.Product.id)
        .where(GiftIssue.event_id == event.id)
        .group_by(inv.Product.id, inv.Product.name, inv.Product.unit)
        .order_by(inv.Product.name)).all()


def event_gift_cost(event):
    return db.session.scalar(select(func.coalesce(func.sum(_signed(GiftIssue.cost)), 0))
                             .where(GiftIssue.event_id == event.id))


def marketer_gift_cost(marketer_id, start=None, end=None):
    query = select(func.coalesce(func.sum(_signed(GiftIssue.cost)), 0)).where(
        GiftIssue.marketer_id == marketer_id)
    if start is not None:
        query = query.where(GiftIssue.at >= start)
    if end is not None:
        query = query.where(GiftIssue.at < end)
    return db.session.scalar(query)


def cost_per_arrival(event):
    """The event's gift cost divided by its arrivals (fen), or None without arrivals."""
    arrivals = db.session.scalar(select(func.count(CheckIn.id))
                                 .where(CheckIn.event_id == event.id))
    return event_gift_cost(event) // arrivals if arrivals else None


def cost_per_deal(event):
    deals = db.session.scalar(select(func.count(Order.id)).where(
        Order.event_id == event.id, Order.status == "open"))
    return event_gift_cost(event) // deals if deals else None


def summary_by_marketer(event):
    return db.session.execute(
        select(User.display_name, func.sum(_signed(GiftIssue.quantity)),
               func.sum(_signed(GiftIssue.cost)))
        .join(User, GiftIssue.marketer_id == User.id)
        .where(GiftIssue.event_id == event.id)
        .group_by(User.id, User.display_name).order_by(User.display_name)).all()


def gift_stock(event):
    """[(product, free quantity)] of the event's gift products at its warehouse."""
    warehouse = event_warehouse(event)
    if warehouse is None:
        return []
    products = {rule.product for rule in rules_for(event) if rule.event_id == event.id}
    location = inv.location_of(warehouse)
    return sorted(((p, inv.quantity_in(location, p)) for p in products),
                  key=lambda pair: pair[0].name)


def door_state(event, customer_id, rule=...):
    """What the check-in tablet shows under a check-in: the event's attendance gift, whether
    this customer has had it (customer_id None: nobody asked), and how many are left (low below
    the warning setting). `rule`: the door's attendance rule when the caller loaded it already
    (None: the event has none)."""
    if rule is ...:
        rule = next(iter(attendance_rules(event)), None)
    if rule is None:
        return None
    left = gift_left(event, rule.product)
    issued = None if customer_id is None else db.session.scalar(select(GiftIssue).where(
        GiftIssue.event_id == event.id, GiftIssue.customer_id == customer_id,
        GiftIssue.kind == "attendance", GiftIssue.reverses_id.is_(None)))
    return {"rule": rule, "issued": issued, "left": left,
            "low": left < get_setting("gifts.low_stock_warning")}


@dataclass
class DeskRow:
    """One arrived guest at the gift desk: what the event's rule owes them and what they had."""
    check_in: CheckIn
    #: The attendance rule that fits the guest (None: the event gives them none).
    rule: GiftRule | None
    #: The attendance gift issue (None: not given yet), and the companion gifts.
    attendance: GiftIssue | None
    companion: list
    #: Issue ids taken back (reversed).
    taken_back: set

    @property
    def customer(self):
        return self.check_in.invitation.customer

    @property
    def owed(self):
        """[(kind, product, quantity)] the rule gives this guest."""
        if self.rule is None:
            return []
        owed = [("attendance", self.rule.product, self.rule.quantity)]
        if self.rule.companion_quantity and self.check_in.companions:
            owed.append(("companion", self.rule.product,
                         self.rule.companion_quantity * self.check_in.companions))
        return owed

    @property
    def had(self):
        """The guest's gifts at the event (attendance first), reversals left out."""
        return [issue for issue in [self.attendance, *self.companion] if issue is not None]

    @property
    def to_give(self):
        """Arrived, and owed a gift not given yet."""
        return self.rule is not None and self.attendance is None


def _rule_for(rules, walk_in):
    """The attendance rule issue_attendance_gifts gives a guest: the first that fits."""
    return next((rule for rule in rules if rule.attendance_for == "arrival" or not walk_in),
                None)


def desk_rows(event, text="", customer_id=None):
    """The gift desk's list: the guests checked in at `event` (those `text` finds with the one
    search box, customers.search_clause; or the one `customer_id`), each a DeskRow, in the
    order they arrived."""
    query = select(CheckIn).join(Invitation, CheckIn.invitation_id == Invitation.id) \
        .join(Customer, CheckIn.customer_id == Customer.id) \
        .where(CheckIn.event_id == event.id) \
        .options(joinedload(CheckIn.invitation).joinedload(Invitation.customer)) \
        .order_by(CheckIn.at, CheckIn.id)
    if customer_id is not None:
        query = query.where(CheckIn.customer_id == customer_id)
    elif (text or "").strip():
        clause = search_clause(text)
        if clause is None:
            return []
        query = query.where(clause)
    check_ins = db.session.scalars(query).unique().all()
    if not check_ins:
        return []
    issues = db.session.scalars(select(GiftIssue).where(
        GiftIssue.event_id == event.id, GiftIssue.kind.in_(("attendance", "companion")),
        GiftIssue.customer_id.in_([record.customer_id for record in check_ins]))
        .order_by(GiftIssue.id)).all()
    taken_back = {issue.reverses_id for issue in issues if issue.reverses_id}
    rules = attendance_rules(event)
    rows = []
    for record in check_ins:
        mine = [issue for issue in issues
                if issue.customer_id == record.customer_id and not issue.reverses_id]
        rows.append(DeskRow(
            check_in=record, rule=_rule_for(rules, record.invitation.is_walk_in),
            attendance=next((i for i in mine if i.kind == "attendance"), None),
            companion=[i for i in mine if i.kind == "companion"],
            taken_back={i.id for i in mine if i.id in taken_back}))
    return rows


def desk_guest(event, customer_id):
    """The customer `customer_id` on the guest list of `event` (walk-ins included), else
    NotFound with the message the desk shows where the tap was."""
    guest = db.session.scalar(
        select(Customer).join(Invitation, Invitation.customer_id == Customer.id)
        .where(Invitation.event_id == event.id, Customer.id == customer_id)) \
        if isinstance(customer_id, int) and 0 < customer_id < 2**31 else None
    if guest is None:
        raise NotFound(_("This guest is not on the event's list. Reload the gift desk."))
    return guest


def desk_counts(event):
    """{"to_give", "given"}: of the guests checked in at `event`, those still owed their
    attendance gift and those who had it."""
    had = select(GiftIssue.id).where(
        GiftIssue.event_id == event.id, GiftIssue.customer_id == CheckIn.customer_id,
        GiftIssue.kind == "attendance", GiftIssue.reverses_id.is_(None)).exists()
    arrived = select(func.count(CheckIn.id)).join(
        Invitation, CheckIn.invitation_id == Invitation.id).where(CheckIn.event_id == event.id)
    rules = attendance_rules(event)
    to_give = 0
    if rules:
        waiting = arrived.where(~had)
        if _rule_for(rules, walk_in=True) is None:
            waiting = waiting.where(Invitation.is_walk_in.is_(False))
        to_give = db.session.scalar(waiting)
    return {"to_give": to_give, "given": db.session.scalar(arrived.where(had))}


def check_gifts():
    """Every gift issue has stock moves for exactly its quantity (a reversal: reversing moves
    for exactly its quantity); their cost is the moves' value."""
    moves = {}
    for document_id, quantity, value in db.session.execute(
            select(inv.StockMove.document_id, func.sum(inv.StockMove.quantity),
                   func.sum(inv.StockMove.quantity * inv.StockMove.unit_cost))
            .where(inv.StockMove.document_type == DOCUMENT)
            .group_by(inv.StockMove.document_id)):
        moves[document_id] = (quantity, value)
    problems = []
    for issue in db.session.execute(select(GiftIssue.id, GiftIssue.quantity, GiftIssue.cost)):
        quantity, value = moves.pop(issue.id, (0, 0))
        if quantity != issue.quantity or value != issue.cost:
            problems.append(f"gift issue {issue.id}: quantity {issue.quantity} cost {issue.cost}, "
                            f"moves {quantity} worth {value}")
    problems += [f"stock moves of gift issue {doc}: no such gift" for doc in sorted(moves)]
    return problems


define_area("gifts", _l("Gifts"))
define("gifts.low_stock_warning", "int", 20, _l("Warn at the door below (gifts)"),
       _l("The check-in tablet warns when fewer gifts than this remain."), min=0, max=100000)
define("gifts.on_return", "str", "return", _l("Purchase gifts of a returned order"),
       choices=(("return", _l("Come back with the goods")),
                ("charge", _l("Stay with the customer, their cost still charged"))))
register_actions({"gift.rule": _l("Saved a gift rule"), "gift.attendance": _l("Gave an "
                                                                             "attendance gift"),
                  "gift.purchase": _l("Gave purchase gifts"),
                  "gift.manual": _l("Gave a gift outside the rules"),
                  "gift.reverse": _l("Took a gift back"),
                  "gift.event_warehouse": _l("Set the event's gift warehouse")})
register_targets({"gift_rules": _l("Gift rule"), "gift_issues": _l("Gift")})


@register_provider
def _gift_items(customer, limit):
    # The columns shown: the rows with their eager joins (the product's category, the customer
    # with its owner, department and channel, the staff) took PostgreSQL 5 ms to plan.
    items = []
    for at, kind, reverses_id, quantity, note, gift, staff in db.session.execute(
            select(GiftIssue.at, GiftIssue.kind, GiftIssue.reverses_id, GiftIssue.quantity,
                   GiftIssue.note, inv.Product.name, User.display_name)
            .join(inv.Product, inv.Product.id == GiftIssue.product_id)
            .join(User, User.id == GiftIssue.staff_id)
            .where(GiftIssue.customer_id == customer.id)
            .order_by(GiftIssue.at.desc()).limit(limit)):
        title = _("Took back %(gift)s × %(n)s", gift=gift, n=quantity) if reverses_id else \
            _("%(kind)s: %(gift)s × %(n)s", kind=ISSUE_KINDS.get(kind, kind), gift=gift,
              n=quantity)
        items.append(TimelineItem(at=at, kind=f"gift.{kind}", title=title, detail=note,
                                  actor=staff))
    return items


register_check("gifts")(check_gifts)


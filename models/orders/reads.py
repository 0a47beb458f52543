"""Reading orders: lists scoped to the user, a customer's orders and what they owe, arrears with
ageing, and the check that proves the payments ledger."""
from datetime import timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload, lazyload

from extensions import db
from models.accounts import User
from models.customers import Customer
from models.inventory import StockMove
from models.orders.tables import (OWING_STATUSES, CashClose, CashClosePayment, Order, OrderLine,
                                  OrderReturn, Payment)
from models.scoping import department_subtree, get_scoped_or_404, scoped

AGEING_BUCKETS = (("not_due", None, 0), ("1_30", 1, 30), ("31_60", 31, 60),
                  ("61_90", 61, 90), ("over_90", 91, None))


def visible_orders(user):
    """Orders the user may see: credited to them (marketers), their department's (heads), all
    (managers, finance)."""
    return scoped(select(Order), user, Order)


def get_order_or_404(order_id, user):
    return get_scoped_or_404(Order, order_id, user)


def find_orders(user, *, text="", state="", event_id=None, marketer_id=None):
    query = visible_orders(user).order_by(Order.created_at.desc(), Order.id.desc())
    text = (text or "").strip()[:40]
    if text:
        query = query.join(Customer, Order.customer_id == Customer.id).where(
            (Order.number == text.upper()) | Customer.name.contains(text, autoescape=True))
    if state == "due":
        query = query.where(Order.status.in_(OWING_STATUSES), Order.balance_due > 0)
    elif state == "cancelled":
        query = query.where(Order.status == "cancelled")
    if event_id:
        query = query.where(Order.event_id == event_id)
    if marketer_id:
        query = query.where(Order.marketer_id == marketer_id)
    return query


def orders_of_customer(customer, limit=None):
    """A customer's orders, newest first (the caller has checked the customer is visible); the
    newest `limit` only, their lines not read (the customer page lists ten)."""
    query = select(Order).where(Order.customer_id == customer.id) \
        .order_by(Order.created_at.desc(), Order.id.desc())
    if limit is not None:
        query = query.limit(limit).options(lazyload(Order.lines), lazyload(Order.customer))
    return db.session.scalars(query).all()


def customer_due(customer):
    """What the customer owes over all open orders and old debts (fen)."""
    return db.session.scalar(select(func.coalesce(func.sum(Order.balance_due), 0)).where(
        Order.customer_id == customer.id, Order.status.in_(OWING_STATUSES),
        Order.balance_due > 0))


def bucket_of(days_overdue):
    for code, low, high in AGEING_BUCKETS:
        if (low is None or days_overdue >= low) and (high is None or days_overdue <= high):
            return code
    return "over_90"


def arrears_query(user, *, department_id=None, marketer_id=None):
    """Open orders and old debts (期初欠款) with money due within the user's scope, oldest due
    date first (only the names of customer and marketer are loaded: a long list stays
    quick)."""
    query = (visible_orders(user).where(Order.status.in_(OWING_STATUSES), Order.balance_due > 0)
             .options(lazyload(Order.lines),
                      joinedload(Order.customer).load_only(Customer.id, Customer.name)
                      .lazyload("*"),
                      joinedload(Order.marketer).load_only(User.id, User.display_name)
                      .lazyload("*"))
             .order_by(Order.due_date, Order.id))
    if department_id:
        query = query.where(Order.department_id.in_(department_subtree(department_id)))
    if marketer_id:
        query = query.where(Order.marketer_id == marketer_id)
    return query


def ageing_totals(query, today):
    """{bucket: fen due} over every order of an arrears query (not just one page)."""
    bucket = case((Order.due_date >= today, "not_due"),
                  (Order.due_date >= today - timedelta(days=30), "1_30"),
                  (Order.due_date >= today - timedelta(days=60), "31_60"),
                  (Order.due_date >= today - timedelta(days=90), "61_90"),
                  else_="over_90")
    inner = query.order_by(None).options().with_only_columns(
        bucket.label("bucket"), Order.balance_due.label("due")).subquery()
    totals = {code: 0 for code, _low, _high in AGEING_BUCKETS}
    for code, due in db.session.execute(select(inner.c.bucket, func.sum(inner.c.due))
                                        .group_by(inner.c.bucket)):
        totals[code] = due
    return totals


def arrears(user, today, *, department_id=None, marketer_id=None, limit=5000):
    """[(order, days_overdue, bucket)] (at most `limit`) and the totals per bucket over all."""
    query = arrears_query(user, department_id=department_id, marketer_id=marketer_id)
    rows = []
    for order in db.session.scalars(query.limit(limit)):
        days = (today - order.due_date).days if order.due_date else 0
        rows.append((order, days, bucket_of(days)))
    return rows, ageing_totals(query, today)


def payments_of(order):
    return db.session.scalars(select(Payment).where(Payment.order_id == order.id)
                              .order_by(Payment.at, Payment.id)).all()


def returns_of(order):
    return db.session.scalars(select(OrderReturn).where(OrderReturn.order_id == order.id)
                              .order_by(OrderReturn.at, OrderReturn.id)).all()


# --- The ledger check ------------------------------------------------------------------------

def check_payments():
    """Orders whose cached figures differ from their ledgers: paid vs the payments, total vs
    the lines, returned value and quantities vs the returns, the balance due; and stock moves
    that do not match the goods handed over and taken back (those taken out of custody are
    custody's to prove: custody.check_custody)."""
    problems = []
    paid = dict(db.session.execute(select(Payment.order_id, func.sum(Payment.amount))
                                   .group_by(Payment.order_id)).all())
    totals = dict(db.session.execute(
        select(OrderLine.order_id, func.sum(OrderLine.quantity * OrderLine.unit_price
                                            - OrderLine.discount))
        .group_by(OrderLine.order_id)).all())
    returned = dict(db.session.execute(select(OrderReturn.order_id, func.sum(OrderReturn.value))
                                       .group_by(OrderReturn.order_id)).all())
    for order in db.session.execute(select(Order.id, Order.number, Order.status, Order.total,
                                           Order.paid, Order.returned_value,
                                           Order.balance_due, Order.warehouse_id)):
        if order.paid != paid.get(order.id, 0):
            problems.append(f"order {order.number}: paid {order.paid}, payments sum to "
                            f"{paid.get(order.id, 0)}")
        # A debt from the old system (期初欠款, cancelled too when its import was rolled back)
        # has no goods: no warehouse and no lines. Every deal has both.
        if order.warehouse_id is not None and order.total != totals.get(order.id, 0):
            problems.append(f"order {order.number}: total {order.total}, lines sum to "
                            f"{totals.get(order.id, 0)}")
        if order.returned_value != returned.get(order.id, 0):
            problems.append(f"order {order.number}: returned {order.returned_value}, returns "
                            f"sum to {returned.get(order.id, 0)}")
        expected = 0 if order.status == "cancelled" else \
            order.total - order.returned_value - order.paid
        if order.balance_due != expected:
            problems.append(f"order {order.number}: balance due {order.balance_due}, should be "
                            f"{expected}")
        if not 0 <= order.paid <= order.total:
            problems.append(f"order {order.number}: paid {order.paid} outside 0..{order.total}")
    line_returns = dict(db.session.execute(
        select(OrderReturn.line_id, func.sum(OrderReturn.quantity))
        .group_by(OrderReturn.line_id)).all())
    signed = case((StockMove.reverses_id.is_(None), StockMove.quantity), else_=-StockMove.quantity)
    moved = {}
    for order_id, product_id, reason, quantity in db.session.execute(
            select(StockMove.document_id, StockMove.product_id, StockMove.reason,
                   func.sum(signed))
            .where(StockMove.document_type == "orders",
                   StockMove.reason.not_in(("custody_return", "custody_deposit")))
            .group_by(StockMove.document_id, StockMove.product_id, StockMove.reason)):
        moved[(order_id, product_id, reason)] = quantity
    expected_moves = {}
    # A large order waiting for its confirmation has handed nothing over yet.
    pending = select(Order.id).where(Order.confirmation == "pending").scalar_subquery()
    for line in db.session.execute(select(OrderLine.id, OrderLine.order_id,
                                          OrderLine.product_id,
                                          case((OrderLine.order_id.in_(pending), 0),
                                               else_=OrderLine.taken).label("taken"),
                                          case((OrderLine.order_id.in_(pending), 0),
                                               else_=OrderLine.held).label("held"),
                                          OrderLine.returned)):
        if line.returned != line_returns.get(line.id, 0):
            problems.append(f"order line {line.id}: returned {line.returned}, returns sum to "
                            f"{line_returns.get(line.id, 0)}")
        # Goods left in custody are custody's to prove (check_custody): on the custody shelf
        # or, in a pooled warehouse, a promise with no move.
        key = (line.order_id, line.product_id, "sale_issue")
        expected_moves[key] = expected_moves.get(key, 0) + line.taken
    for order_id, product_id, quantity in db.session.execute(
            select(OrderReturn.order_id, OrderLine.product_id,
                   func.sum(OrderReturn.quantity - OrderReturn.from_held))
            .join(OrderLine, OrderReturn.line_id == OrderLine.id)
            .group_by(OrderReturn.order_id, OrderLine.product_id)):
        if quantity:
            key = (order_id, product_id, "customer_return")
            expected_moves[key] = expected_moves.get(key, 0) + quantity
    for key in sorted(set(expected_moves) | set(moved)):
        if expected_moves.get(key, 0) != moved.get(key, 0):
            problems.append(f"order {key[0]} product {key[1]}: {key[2]} moves "
                            f"{moved.get(key, 0)}, goods say {expected_moves.get(key, 0)}")
    return problems + check_cash_closes()


def check_cash_closes():
    """Daily closes whose figures differ from the entries they cover, that cover another
    cashier's entries, or an entry covered by two standing (not reopened) closes."""
    problems = []
    covered = dict(db.session.execute(
        select(CashClosePayment.close_id, func.sum(Payment.amount))
        .join(Payment, Payment.id == CashClosePayment.payment_id)
        .group_by(CashClosePayment.close_id)).all())
    for close in db.session.execute(select(CashClose.id, CashClose.expected_total)):
        if close.expected_total != covered.get(close.id, 0):
            problems.append(f"cash close {close.id}: expected {close.expected_total}, its "
                            f"entries sum to {covered.get(close.id, 0)}")
    for close_id, payment_id in db.session.execute(
            select(CashClose.id, Payment.id)
            .join(CashClosePayment, CashClosePayment.close_id == CashClose.id)
            .join(Payment, Payment.id == CashClosePayment.payment_id)
            .where(Payment.cashier_id != CashClose.cashier_id)):
        problems.append(f"cash close {close_id}: covers payment {payment_id} of another cashier")
    for payment_id, count in db.session.execute(
            select(CashClosePayment.payment_id, func.count())
            .join(CashClose, CashClose.id == CashClosePayment.close_id)
            .where(CashClose.reopened_at.is_(None))
            .group_by(CashClosePayment.payment_id).having(func.count() > 1)):
        problems.append(f"payment {payment_id}: covered by {count} standing daily closes")
    return problems

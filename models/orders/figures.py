"""Money figures per customer, read from the orders, the payments ledger and the stock moves, and
the nightly RFM scores (issue 25 §4). Every figure is a query over recorded facts, in fen:

- binding orders: open (not cancelled) orders that are not large orders waiting for their
  second confirmation (those bind nobody yet).
- sales (lifetime): Σ (total − value of goods returned) of the customer's binding orders.
- collected: the payments ledger's net on all the customer's orders — receipts less refunds,
  with reversals — whenever the money came.
- COGS (cost of goods sold): the cost of goods sold of the customer's binding orders, as
  models/orders/cogs.py defines it for every figure (goods handed over at their batch's cost,
  goods left in a pooled warehouse's custody at the standard cost when sold, less reversals and
  goods brought back into free stock); gifts and points redemptions are costs of their own.
- gross margin: sales − COGS.
- last purchase: when the latest binding order was taken.
- RFM: recency (how long since the last purchase), frequency (the number of binding orders)
  and monetary (lifetime sales), each a quintile 1–5 over every customer of the company with a
  binding order (5 = the most recent, the most orders, the most money). A customer's score is
  1 + ⌊5 × (rank − 1) / n⌋, rank = 1 for the lowest value (RANK: equal values share a rank,
  hence a score — a quintile never splits customers who bought the same), n = the buying
  customers. With ten customers of distinct values that is two customers per score. Computed
  for the whole company by the nightly `rfm` job (score_rfm), stored in customer_rfm.
"""
from sqlalchemy import delete, func, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from extensions import db
from models.base import utcnow
from models.customers import CustomerRfm
from models.orders import cogs
from models.orders.tables import Order, Payment


def binding():
    """The clauses of a binding order: open, and not a large order awaiting confirmation."""
    return (Order.status == "open", Order.confirmation != "pending")


def cogs_by_customer(customer_ids=None, *, since=None, until=None):
    """{customer id: COGS in fen} of the binding orders of those customers (every customer when
    None; a list or a select of ids). Given a period [since, until) (UTC), the cost of goods
    sold of that period as its sales count (cogs.of_period: the orders taken in it, the goods
    brought back in it); otherwise over the customers' lifetime.

    Their orders' moves are found through the moves' document index (cogs.of_orders): joined
    the other way, SQLite read every order move (230 ms for one customer among 500,000
    orders)."""
    where = list(binding())
    if customer_ids is not None:
        where.append(Order.customer_id.in_(customer_ids))
    if since is not None and until is not None:
        queries = cogs.of_period(Order.customer_id, where=where, since=since, until=until)
    else:
        queries = cogs.of_orders(Order.customer_id, where=where)
    out = {}
    for query in queries:
        for customer_id, amount in db.session.execute(query):
            out[customer_id] = out.get(customer_id, 0) + int(amount or 0)
    return out


def customer_figures(customer):
    """{sales, collected, cogs, margin, orders, last_purchase_at, rfm} of one customer over
    their lifetime (see the module's docstring); `rfm` is their stored CustomerRfm or None.
    Five queries whatever the number of orders (three of them the cost of goods sold's)."""
    collected = (select(func.coalesce(func.sum(Payment.amount), 0))
                 .join(Order, Order.id == Payment.order_id)
                 .where(Order.customer_id == customer.id).scalar_subquery())
    orders, sales, last, paid = db.session.execute(
        select(func.count(Order.id),
               func.coalesce(func.sum(Order.total - Order.returned_value), 0),
               func.max(Order.created_at), collected)
        .where(Order.customer_id == customer.id, *binding())).one()
    cost = cogs_by_customer([customer.id]).get(customer.id, 0)
    return {"sales": int(sales), "collected": int(paid), "cogs": cost,
            "margin": int(sales) - cost, "orders": orders, "last_purchase_at": last,
            "rfm": db.session.get(CustomerRfm, customer.id)}


def _basis(earlier=None):
    """Per buying customer: the number of binding orders, their value after returns, the last.
    `earlier`: a select of (customer_id, value, at) of purchases made before the move-in (the
    rfm job gives them: models.opening's), counted as orders."""
    purchases = select(Order.customer_id.label("customer_id"),
                       (Order.total - Order.returned_value).label("value"),
                       Order.created_at.label("at")).where(*binding())
    if earlier is not None:
        purchases = purchases.union_all(earlier)
    purchases = purchases.subquery("purchases")
    return (select(purchases.c.customer_id.label("customer_id"),
                   func.count().label("orders"),
                   func.sum(purchases.c.value).label("sales"),
                   func.max(purchases.c.at).label("last"))
            .group_by(purchases.c.customer_id).subquery("basis"))


def rfm_scores(earlier=None):
    """A select of (customer_id, recency_score, frequency_score, monetary_score,
    last_purchase_at, orders, sales_fen) for every buying customer, ranked in SQL (`earlier`:
    see _basis)."""
    basis = _basis(earlier)
    n = func.count().over()

    def score(column):
        rank = func.rank().over(order_by=column)
        return 1 + (5 * (rank - 1)) // n
    return select(basis.c.customer_id, score(basis.c.last).label("recency_score"),
                  score(basis.c.orders).label("frequency_score"),
                  score(basis.c.sales).label("monetary_score"),
                  basis.c.last.label("last_purchase_at"), basis.c.orders.label("orders"),
                  basis.c.sales.label("sales_fen"))


def score_rfm(now=None, earlier=None):
    """Score every buying customer's RFM (the nightly `rfm` job), as of `now`, in two
    statements: customers without a binding order any more lose their row; the others' rows
    are written or, where a score or its basis changed, updated (INSERT … ON CONFLICT DO
    UPDATE, so a re-run or a second scheduler at the same time writes each row once; an
    unchanged row keeps its computed_at: the scores stand since then). Returns the customers
    scored."""
    now = now or utcnow()
    table = CustomerRfm.__table__
    # NOT EXISTS, not NOT IN (…): PostgreSQL runs NOT IN over a subquery larger than work_mem
    # as a scan of the subquery per row — 118,000 rows × 300,000 orders ran for minutes
    # (bench/scale.py at a tenth); NOT EXISTS is one anti-join.
    gone = ~select(Order.id).where(Order.customer_id == CustomerRfm.customer_id,
                                   *binding()).exists()
    if earlier is not None:
        past = earlier.subquery()
        gone &= ~select(past.c.customer_id).where(
            past.c.customer_id == CustomerRfm.customer_id).exists()
    db.session.execute(delete(CustomerRfm).where(gone)
                       .execution_options(synchronize_session=False))
    scores = rfm_scores(earlier).subquery("scores")
    columns = ["customer_id", "recency_score", "frequency_score", "monetary_score",
               "last_purchase_at", "orders", "sales_fen"]
    # Ordered by customer, so two runs at once lock the rows in the same order (no deadlock);
    # the WHERE keeps SQLite's parser from reading ON CONFLICT as a join's ON.
    source = (select(*[scores.c[name] for name in columns],
                     literal(now, table.c.computed_at.type))
              .where(scores.c.customer_id.is_not(None)).order_by(scores.c.customer_id))
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" \
        else sqlite.insert
    statement = insert(table).from_select(columns + ["computed_at"], source)
    # Only a row whose scores or basis changed is written (computed_at: since when they
    # stand): a night rewrote all 1.1 M rows of two million customers, most unchanged, and a
    # re-run all of them again (#29: 15.5 s of a re-run's 61).
    statement = statement.on_conflict_do_update(
        index_elements=["customer_id"],
        set_={name: statement.excluded[name] for name in columns[1:] + ["computed_at"]},
        where=or_(*[table.c[name].is_distinct_from(statement.excluded[name])
                    for name in columns[1:]]))
    db.session.execute(statement)
    db.session.expire_all()  # rows loaded before now show the new scores
    return db.session.scalar(select(func.count()).select_from(CustomerRfm))

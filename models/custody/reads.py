"""Reading custody: whose goods a user may look at or hand over, what a customer holds, who
has not collected, what is near expiry, and the report per marketer."""
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from extensions import db
from models import inventory as inv
from models.accounts import User
from models.base import NotFound, utcnow
from models.custody.tables import CustodyEntry
from models.customers import Customer, search_clause, visible_customers
from models.events import Event, Invitation
from models.scoping import department_subtree, scoped, staffed_event_ids
from models.settings import get_setting


def custody_customers(user):
    """A select of the customers whose goods the user may hand over or look at: the user's
    customer scope; for event staff, the customers invited to the events they staff now."""
    if user.has_role("admin", "manager", "warehouse", "finance", "dept_head", "marketer"):
        return visible_customers(user)
    if user.has_role("event_staff"):
        events = select(Event.id).where(Event.id.in_(staffed_event_ids(user.id)),
                                        Event.status.in_(("open", "in_progress")))
        return select(Customer).where(Customer.id.in_(
            select(Invitation.customer_id).where(Invitation.event_id.in_(events))))
    return select(Customer).where(Customer.id.is_(None))


def seen_customer_ids(user, customer_ids):
    """The ids among `customer_ids` of the customers `user` may see (custody_customers): whom a
    page about another customer may name."""
    if not customer_ids:
        return set()
    return set(db.session.scalars(custody_customers(user).with_only_columns(Customer.id)
                                  .where(Customer.id.in_(set(customer_ids)))))


def find_holders(user, text, limit=20):
    """Customers holding goods, found as at the door (name, pinyin, phone tail)."""
    clause = search_clause(text)
    if clause is None:
        return []
    # Only the balances of the customers the search matched are summed, not the whole ledger.
    holding = select(CustodyEntry.customer_id).where(
        CustodyEntry.customer_id.in_(select(Customer.id).where(clause))).group_by(
        CustodyEntry.customer_id).having(func.sum(CustodyEntry.quantity) > 0)
    return db.session.scalars(custody_customers(user).where(clause, Customer.id.in_(holding))
                              .order_by(Customer.name_pinyin).limit(limit)).all()


def get_holder_or_404(customer_id, user):
    customer = db.session.scalar(custody_customers(user).where(Customer.id == customer_id)) \
        if isinstance(customer_id, int) and 0 < customer_id < 2**31 else None
    if customer is None:
        raise NotFound(_("Not found, or not yours to see."))
    return customer


def entries_of(customer):
    return db.session.scalars(select(CustodyEntry).where(CustodyEntry.customer_id ==
                                                         customer.id)
                              .order_by(CustodyEntry.at, CustodyEntry.id)).all()


def balances_by_product(customer):
    """[(product, held)] of a customer, products still held."""
    rows = db.session.execute(select(inv.Product, func.sum(CustodyEntry.quantity))
                              .join(inv.Product, CustodyEntry.product_id == inv.Product.id)
                              .where(CustodyEntry.customer_id == customer.id)
                              .group_by(inv.Product.id).order_by(inv.Product.name)).all()
    return [(product, held) for product, held in rows if held]


def not_collected(today, days=None):
    """Customers holding goods who have not collected (nor deposited) for `days` days (the
    setting by default): [(customer_id, last activity, units held)] — the scheduler's pickup
    reminders."""
    days = get_setting("custody.remind_after_days") if days is None else days
    since = datetime.combine(today - timedelta(days=days), datetime.min.time(),
                             tzinfo=utcnow().tzinfo)
    rows = db.session.execute(
        select(CustodyEntry.customer_id, func.max(CustodyEntry.at),
               func.sum(CustodyEntry.quantity))
        .group_by(CustodyEntry.customer_id)
        .having(func.sum(CustodyEntry.quantity) > 0)
        .having(func.max(CustodyEntry.at) < since)
        .order_by(func.max(CustodyEntry.at))).all()
    return [tuple(row) for row in rows]


def expiring_held(today, within_days=None):
    """Held goods whose batch expires within N days (or has expired): [(customer, product, batch,
    held)] soonest first."""
    days = get_setting("inventory.near_expiry_days") if within_days is None else within_days
    rows = db.session.execute(
        select(Customer, inv.Product, inv.Batch, func.sum(CustodyEntry.quantity))
        .join(Customer, CustodyEntry.customer_id == Customer.id)
        .join(inv.Product, CustodyEntry.product_id == inv.Product.id)
        .join(inv.Batch, CustodyEntry.batch_id == inv.Batch.id)
        .where(inv.Batch.expiry_date <= today + timedelta(days=days))
        .group_by(Customer.id, inv.Product.id, inv.Batch.id)
        .order_by(inv.Batch.expiry_date)).all()
    return [tuple(row) for row in rows if row[3]]


def report_by_marketer(department_id=None, *, user=None):
    """Per marketer (the customer's owner): customers holding, units held, value at cost, the
    oldest holding still open. With `user`, only the customers in their scope: a department
    head sees their department's, whatever department is asked for. Goods promised in a pooled
    warehouse (no batch set aside) are valued at the product's standard cost."""
    per_customer = (select(CustodyEntry.customer_id, CustodyEntry.product_id,
                           CustodyEntry.batch_id,
                           func.sum(CustodyEntry.quantity).label("held"),
                           func.min(CustodyEntry.at).label("since"))
                    .group_by(CustodyEntry.customer_id, CustodyEntry.product_id,
                              CustodyEntry.batch_id)
                    .having(func.sum(CustodyEntry.quantity) > 0).subquery())
    unit_cost = func.coalesce(inv.Batch.unit_cost, inv.Product.standard_cost)
    query = (select(User.display_name, func.count(func.distinct(per_customer.c.customer_id)),
                    func.sum(per_customer.c.held),
                    func.sum(per_customer.c.held * unit_cost),
                    func.min(per_customer.c.since))
             .select_from(per_customer)
             .join(Customer, Customer.id == per_customer.c.customer_id)
             .join(inv.Product, inv.Product.id == per_customer.c.product_id)
             .outerjoin(inv.Batch, inv.Batch.id == per_customer.c.batch_id)
             .outerjoin(User, User.id == Customer.owner_id)
             .group_by(User.id, User.display_name).order_by(User.display_name))
    if department_id:
        query = query.where(Customer.department_id.in_(department_subtree(department_id)))
    if user is not None:
        query = scoped(query, user, Customer)
    return db.session.execute(query).all()

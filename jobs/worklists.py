"""The nightly runs that write the worklists (回访、关怀、催款): each job for day D writes the
tasks due from D to D + the planning window (a setting), each under the task's unique key
(kind, customer, source, due date), so a re-run, a second scheduler or a catch-up writes nothing
twice (models.tasks.write_tasks). A task goes to the customer's owner (owned, active customers
only). Each job reads the facts of its area — orders, events and check-ins, custody, products,
contact logs — and returns the tasks written.
"""
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from extensions import db
from formatting import fen
from models import aftersales, custody, customers as c, inventory as inv
from models.checkin import CheckIn
from models.clock import company_zone, day_start, local_day
from models.events import Event, Invitation
from models.opening import PastPurchase
from models.orders import OWING_STATUSES, Order, OrderLine
from models.settings import get_setting
from models.tasks import CHUNK, Task, owned_customers, task_row, write_tasks


def window(day):
    """The due dates a run for `day` writes: day … day + the planning window."""
    return day, day + timedelta(days=get_setting("tasks.plan_days"))


def callback_plan():
    """[(days after the purchase, wording)] from the settings."""
    plan = []
    for n in (1, 2, 3):
        days = get_setting(f"tasks.callback_{n}_days")
        text = get_setting(f"tasks.callback_{n}_text").strip()
        if days and text:
            plan.append((days, text))
    return plan


def callbacks(day, now=None):
    """Callbacks after a purchase: day 3 usage, day 7 effect, day 30 what is left (settings)."""
    first, last = window(day)
    rows = []
    title_text, detail_text = _("Day %(n)s: %(text)s"), _("Order %(number)s")
    zone = company_zone()
    for days, text in callback_plan():
        since, until = day_start(first - timedelta(days=days)), \
            day_start(last - timedelta(days=days) + timedelta(days=1))
        found = db.session.execute(
            select(Order.customer_id, Order.id, Order.created_at, Order.number)
            .where(Order.status == "open", Order.created_at >= since, Order.created_at < until,
                   Order.returned_value < Order.total)).all()
        idents = owned_customers({row[0] for row in found})
        for cid, order_id, created_at, number in found:
            if cid not in idents:
                continue
            due = local_day(created_at, zone) + timedelta(days=days)
            rows.append(task_row("callback", idents[cid], due, f"order:{order_id}",
                                 title_text % {"n": days, "text": text},
                                 detail_text % {"number": number or order_id}))
    return write_tasks(rows, now=now)


def event_follow_ups(day, now=None):
    """The day after an event (a setting): attendees who did not buy, invitees who did not
    come."""
    after = get_setting("tasks.event_follow_up_days")
    # Events held on the days whose follow-up falls in the window and which are over.
    first, last = window(day)
    first_event_day = max(first - timedelta(days=after), day - timedelta(days=after))
    last_event_day = min(last - timedelta(days=after), day - timedelta(days=1))
    if last_event_day < first_event_day:
        return 0
    events = db.session.execute(
        select(Event.id, Event.starts_at, Event.title).where(
            Event.status != "cancelled", Event.starts_at >= day_start(first_event_day),
            Event.starts_at < day_start(last_event_day + timedelta(days=1)))).all()
    rows = []
    for event_id, starts_at, name in events:
        due = local_day(starts_at) + timedelta(days=after)
        bought = select(Order.customer_id).where(Order.event_id == event_id,
                                                 Order.status == "open")
        came = select(CheckIn.customer_id).where(CheckIn.event_id == event_id)
        no_buy = db.session.scalars(select(Invitation.customer_id).where(
            Invitation.event_id == event_id, Invitation.status == "attended",
            Invitation.customer_id.not_in(bought))).all()
        no_show = db.session.scalars(select(Invitation.customer_id).where(
            Invitation.event_id == event_id,
            Invitation.status.in_(("invited", "confirmed", "no_show")),
            Invitation.customer_id.not_in(came))).all()
        idents = owned_customers(set(no_buy) | set(no_show))
        title = _("Came to %(event)s but did not buy", event=name)
        rows.extend(task_row("no_buy", idents[cid], due, f"event:{event_id}", title)
                    for cid in no_buy if cid in idents)
        title = _("Invited to %(event)s but did not come", event=name)
        rows.extend(task_row("no_show", idents[cid], due, f"event:{event_id}", title)
                    for cid in no_show if cid in idents)
    return write_tasks(rows, now=now)


#: Customers looked at by one query of care() when it is given their ids.
CARE_CHUNK = 5000


def care(day, now=None, customer_ids=None):
    """Birthday and anniversary care, a few days ahead (a setting) so a gift can be ready.

    A birthday closer than the lead days — of a customer registered or imported today, or on
    the first run after installation — is written due today, once (no task for it yet).
    `customer_ids`: only these customers (registration and import call it for the new ones),
    CARE_CHUNK at a time (an import of 100,000: a query's parameters are limited)."""
    if customer_ids is not None and len(customer_ids) > CARE_CHUNK:
        ids = list(customer_ids)
        return sum(care(day, now, ids[start:start + CARE_CHUNK])
                   for start in range(0, len(ids), CARE_CHUNK))
    lead = get_setting("tasks.birthday_lead_days")
    first, last = window(day)
    start, end = first + timedelta(days=lead), last + timedelta(days=lead)
    # Only the columns the tasks are made from, as plain rows (a month of birthdays is
    # 170,000 customers at two million: loading them as objects was half the job).
    Customer = c.Customer
    owned = select(Customer.id, Customer.owner_id, Customer.department_id, Customer.name_pinyin,
                   Customer.birthday_kind, Customer.birthday, Customer.birth_year,
                   Customer.lunar_month, Customer.lunar_day, Customer.lunar_leap).where(
        Customer.owner_id.is_not(None))
    dated = select(c.Customer.id, c.Customer.owner_id, c.Customer.department_id,
                   c.Customer.anniversary).where(
        c.Customer.status == "active", c.Customer.owner_id.is_not(None),
        c.Customer.anniversary.is_not(None))
    if customer_ids is not None:
        owned = owned.where(c.Customer.id.in_(customer_ids))
        dated = dated.where(c.Customer.id.in_(customer_ids))
    rows, late = _care_rows(owned, dated, start, end, lead), []
    if lead:  # birthdays within the lead: due today, if nobody has a task for them yet
        late = [{**row, "due_date": day} for row in
                _care_rows(owned, dated, first, start - timedelta(days=1), lead)]
    return write_tasks(rows, now=now) + write_tasks(late, now=now, once_per_source=True)


def _care_rows(owned, dated, start, end, lead):
    """The birthday and anniversary tasks of the days start … end (each due `lead` days
    before)."""
    rows = []
    age_text, title_text = _(", %(n)s years old"), _("Birthday on %(date)s%(lunar)s%(age)s")
    for hit in c.care_list(start, end, customers=owned, rows=True):
        customer = hit["customer"]
        ident = (customer.id, customer.owner_id, customer.department_id)
        age = age_text % {"n": hit["age"]} if hit["age"] else ""
        lunar = "（%s）" % c.lunar_label(customer.lunar_month, customer.lunar_day,
                                       customer.lunar_leap) \
            if customer.birthday_kind == "lunar" else ""
        rows.append(task_row("birthday", ident, hit["date"] - timedelta(days=lead),
                             f"birthday:{hit['date'].isoformat()}",
                             title_text % {"date": _md(hit["date"]), "lunar": lunar, "age": age},
                             hit["note"]))
    for customer in db.session.execute(dated):
        hit = c.anniversary_between(customer.anniversary, start, end)
        if hit is not None:
            rows.append(task_row("anniversary", tuple(customer)[:3], hit[0] - timedelta(days=lead),
                                 f"anniversary:{hit[0].isoformat()}",
                                 _("Anniversary on %(date)s", date=_md(hit[0])), hit[1]))
    return rows


def _md(day):
    return f"{day.month}月{day.day}日"


def arrears(day, now=None):
    """Collection of arrears: a few days before the due date, the day after it, then every N
    days while money is still due (settings)."""
    before = get_setting("tasks.arrears_before_days")
    repeat = get_setting("tasks.arrears_repeat_days")
    first, last = window(day)
    rows = []
    detail_text, soon_text, late_text = (_("Order %(number)s: %(amount)s due on %(date)s"),
                                         _("Balance due in %(n)s days"),
                                         _("Arrears %(n)s days overdue"))
    found = db.session.execute(
        select(Order.customer_id, Order.id, Order.number, Order.due_date, Order.balance_due)
        .where(Order.status.in_(OWING_STATUSES), Order.balance_due > 0,
               Order.due_date.is_not(None),
               Order.due_date <= last + timedelta(days=before))).all()
    idents = owned_customers({row[0] for row in found})
    for cid, order_id, number, due_date, balance in found:
        if cid not in idents:
            continue
        reminder = due_date - timedelta(days=before)
        late = (day - due_date).days
        # Overdue: the day after the due date, then every `repeat` days — written on the day
        # itself (a missed night is caught up by running that day).
        if not (first <= reminder <= last or (late >= 1 and (late - 1) % repeat == 0)):
            continue
        detail = detail_text % {"number": number or order_id, "amount": fen(balance),
                                "date": due_date.isoformat()}
        if first <= reminder <= last:
            rows.append(task_row("arrears", idents[cid], reminder, f"order:{order_id}",
                                 soon_text % {"n": before}, detail))
        if late >= 1 and (late - 1) % repeat == 0:
            rows.append(task_row("arrears", idents[cid], day, f"order:{order_id}",
                                 late_text % {"n": late}, detail))
    return write_tasks(rows, now=now)


def custody_reminders(day, now=None):
    """Customers who have not collected held goods for N days (every N days), and held goods whose
    batch is near expiry (once per batch)."""
    every = get_setting("custody.remind_after_days")
    rows = []
    holders = custody.not_collected(day, every)
    idents = owned_customers([cid for cid, _at, _held in holders])
    # Looked up once, not per holder (two hundred thousand at two million customers).
    zone, title = company_zone(), _("%(n)s units held, not collected for %(days)s days")
    for cid, last_at, held in holders:
        if cid not in idents:
            continue
        since = local_day(last_at, zone)
        quiet = (day - since).days
        due = since + timedelta(days=(quiet // every) * every)
        rows.append(task_row("pickup", idents[cid], due, "custody",
                             title % {"n": held, "days": (due - since).days}))
    written = write_tasks(rows, now=now)
    near = get_setting("inventory.near_expiry_days")
    expiring = custody.expiring_held(day, near)
    idents = owned_customers([customer.id for customer, *_rest in expiring])
    rows = [task_row("custody_expiry", idents[customer.id], day, f"batch:{batch.id}",
                     _("%(n)s × %(product)s held, expires %(date)s", n=held, product=product.name,
                   date=batch.expiry_date.isoformat()))
            for customer, product, batch, held in expiring if customer.id in idents]
    return written + write_tasks(rows, now=now, once_per_source=True)


def repurchase(day, now=None):
    """Reminders before the goods a customer has in hand run out, a few days ahead (a setting).

    What is in hand comes from the ledgers: the goods taken home with the order, less those of
    them brought back, from the day of the order; each pickup from custody from its day (a
    reversed pickup takes its share off). A unit lasts the product's days per unit; goods that
    arrive after the last ran out start a new run on the day they arrive."""
    lead = get_setting("tasks.repurchase_lead_days")
    first, last = window(day)
    longest = db.session.scalar(select(func.max(inv.Product.days_per_unit))) or 0
    if not longest:
        return 0
    zone = company_zone()
    lines = db.session.execute(
        select(Order.customer_id, OrderLine.id, Order.created_at, OrderLine.taken,
               OrderLine.returned, inv.Product.days_per_unit, inv.Product.name)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(inv.Product, inv.Product.id == OrderLine.product_id)
        .where(Order.status == "open", inv.Product.days_per_unit > 0,
               OrderLine.quantity > OrderLine.returned,
               # a generous bound: no purchase lasts beyond ten years
               Order.created_at >= day_start(first - timedelta(days=3650)))).all()
    # What custody handed over (pickups, less reversed ones) and took back out (returns), per
    # line, by day.
    moves = {}
    for line_id, kind, at, quantity in db.session.execute(
            select(custody.CustodyEntry.order_line_id, custody.CustodyEntry.kind,
                   custody.CustodyEntry.at, custody.CustodyEntry.quantity)
            .where(custody.CustodyEntry.order_line_id.in_([row[1] for row in lines]),
                   custody.CustodyEntry.kind.in_(("pickup", "reversal", "return")))):
        moves.setdefault(line_id, []).append((kind, local_day(at, zone), quantity))
    due_rows = []
    for cid, line_id, created_at, taken, returned, per_unit, name in lines:
        line_moves = moves.get(line_id, [])
        returned_out_of_custody = -sum(q for kind, _d, q in line_moves if kind == "return")
        supply = [(local_day(created_at, zone), taken - (returned - returned_out_of_custody))]
        supply += [(on, -q) for kind, on, q in line_moves if kind in ("pickup", "reversal")]
        runs_out = None
        for on, units in sorted(supply):
            start = on if runs_out is None else max(runs_out, on) if units > 0 else runs_out
            runs_out = start + timedelta(days=units * per_unit)
        if runs_out is None or runs_out <= local_day(created_at, zone):
            continue  # nothing in hand yet (all of it still in custody), or all brought back
        due = runs_out - timedelta(days=lead)
        if first <= due <= last:
            due_rows.append((cid, line_id, due, runs_out, name))
    # Purchases the old system knew (历史购买) of a product that runs out: from the day bought.
    for purchase, per_unit in db.session.execute(
            select(PastPurchase, inv.Product.days_per_unit)
            .join(inv.Product, inv.Product.id == PastPurchase.product_id)
            .where(PastPurchase.rolled_back_at.is_(None), inv.Product.days_per_unit > 0,
                   PastPurchase.bought_on >= first - timedelta(days=3650))):
        runs_out = purchase.bought_on + timedelta(days=purchase.quantity * per_unit)
        due = runs_out - timedelta(days=lead)
        if first <= due <= last:
            due_rows.append((purchase.customer_id, f"past:{purchase.id}", due, runs_out,
                             purchase.product_name))
    idents = owned_customers({row[0] for row in due_rows})
    text = _("%(product)s runs out about %(date)s")
    return write_tasks([task_row("repurchase", idents[cid], due,
                                 line_id if isinstance(line_id, str) else f"line:{line_id}",
                                 text % {"product": name, "date": runs_out.isoformat()})
                        for cid, line_id, due, runs_out, name in due_rows if cid in idents],
                       now=now)


def planned_follow_ups(day, now=None):
    """The next follow-up a marketer wrote on a contact log, as a task on that day."""
    first, last = window(day)
    found = db.session.execute(
        select(c.ContactLog.customer_id, c.ContactLog.id, c.ContactLog.next_follow_up,
               c.ContactLog.outcome, c.ContactLog.content)
        .where(c.ContactLog.next_follow_up >= first, c.ContactLog.next_follow_up <= last)).all()
    idents = owned_customers({row[0] for row in found})
    title = _("Follow up as planned")
    return write_tasks([task_row("follow_up", idents[cid], due, f"contact:{log_id}", title,
                                 (outcome or content)[:200])
                        for cid, log_id, due, outcome, content in found if cid in idents],
                       now=now)


def aftersales_reminders(day, now=None):
    """Unresolved after-sales tickets on their assignee's worklist: a task on the ticket's due
    day (written that day, or by the first run after it — then shown as overdue), and while the
    ticket stays open past it, a fresh one N days (a setting) after the last reminder was done
    or skipped — never two open reminders for one ticket. Keyed by the ticket and the
    reminder's day, so a re-run or a second scheduler writes nothing twice; closing the ticket
    marks its open reminder done, handing it over moves it (models/aftersales.py)."""
    every = timedelta(days=get_setting("aftersales.remind_every_days"))
    Ticket = aftersales.Ticket
    found = db.session.execute(
        select(Ticket.id, Ticket.customer_id, Ticket.assignee_id, Ticket.department_id,
               Ticket.due_date, Ticket.number, Ticket.kind, Ticket.description)
        .where(Ticket.status != "closed", Ticket.due_date <= day)).all()
    # The latest reminder of each ticket: (its day, open?, the day it was done or skipped).
    latest = {}
    sources = [f"ticket:{row[0]}" for row in found]
    for start in range(0, len(sources), CHUNK):
        for source, due, status, done_on in db.session.execute(
                select(Task.source_key, Task.due_date, Task.status, Task.done_on)
                .where(Task.kind == aftersales.REMINDER,
                       Task.source_key.in_(sources[start:start + CHUNK]))
                .order_by(Task.due_date, Task.id)):
            latest[source] = (due, status == "open", done_on or due)
    title_text = _("%(kind)s %(number)s due on %(date)s")
    rows = []
    for ticket_id, cid, assignee_id, department_id, due, number, kind, text in found:
        source = f"ticket:{ticket_id}"
        last = latest.get(source)
        if last is None or last[0] < due:  # none yet for this due date (or since reopening)
            on = due
        elif last[1]:
            continue  # the last reminder still waits on the worklist
        else:
            on = max(last[0], last[2]) + every
            if on > day:
                continue
        rows.append(task_row(aftersales.REMINDER, (cid, assignee_id, department_id), on,
                             source, title_text % {"kind": aftersales.KINDS[kind],
                                                   "number": number, "date": _md(due)},
                             text))
    return write_tasks(rows, now=now)


# --- Public pool and grades --------------------------------------------------------------------


"""After-sales (售后): a ticket per customer problem — a complaint (投诉), a repair (维修) or a
home visit (上门) — with the product and the order it is about, the person responsible, a due
date by kind (settings), its status (open → in progress → closed; reopened when the problem
comes back), the notes appended to it (who, when) and the outcome it was closed with.

Seed 002: a customer's repair waited a month while a salesman came back to sell again. So an
open ticket
- goes on its assignee's worklist when it is due and again while it stays overdue (the nightly
  job jobs/worklists.aftersales_reminders writes a task of kind "aftersales");
- shows as a warning on the customer's page and on the order form (open_tickets_of);
- counts in the performance report per marketer and department (reports/performance.py).

Who sees a ticket: whoever may see its customer (models.customers.visible_customers — a
marketer their own customers and the public pool's, a head their department's, managers all)
and the person it is assigned to (with their department head). Out of scope is a 404.

This area stands on orders (a ticket names one of its customer's orders) and tasks (a ticket's
reminders follow it: handed over with it, done when it closes), so it is a layer of its own
just above the ledgers of one area each (.importlinter). Operations flush, audit and return;
the route commits.
"""
from datetime import date, datetime, timedelta

from flask import has_request_context, url_for
from flask_babel import gettext as _, lazy_gettext as _l, lazy_pgettext as _lp
from sqlalchemy import (CheckConstraint, Date, ForeignKey, Index, Integer, String, or_, select,
                        update)
from sqlalchemy.orm import Mapped, lazyload, mapped_column, relationship

from extensions import db
from models.accounts import User, UserRole
from models.audit import audit, register_actions, register_fields, register_targets, \
    register_values
from models.base import (Conflict, InvalidInput, NotFound, PermissionDenied, TokenMixin,
                         UTCDateTime, add_once, lock_row, utcnow)
from models.clock import document_number, local_day
from models.customers import Customer, visible_customers
from models.inventory import Product
from models.orders import Order
from models.scoping import department_subtree, department_subtree_ids, scope_clause
from models.settings import define, define_area, get_setting
from models.tasks import Task
from models.timeline import TimelineItem, register_provider

KINDS = {"complaint": _l("Complaint"), "repair": _l("Repair"), "visit": _l("Home visit")}
STATUSES = {"open": _lp("ticket", "Open"), "in_progress": _lp("ticket", "In progress"),
            "closed": _lp("ticket", "Closed")}
#: The moves a ticket's status may make (one function makes them: change_ticket_status).
TRANSITIONS = {"open": ("in_progress", "closed"), "in_progress": ("closed",),
               "closed": ("open",)}
#: What each entry of a ticket's list of notes records.
NOTE_KINDS = {"note": _l("Note"), "assign": _lp("ticket", "Handed over"),
              "start": _l("Work started"), "close": _lp("ticket", "Closed"),
              "reopen": _l("Reopened")}
#: The entry a status change writes.
_ENTRY_OF = {"in_progress": "start", "closed": "close", "open": "reopen"}
#: Who works tickets — registers them, is made responsible, changes them. A ticket's reminder
#: is a task, and tasks are worked from "Today" by these roles.
WORKER_ROLES = ("manager", "dept_head", "marketer")
#: The task kind of a ticket's reminder (models.tasks.KINDS).
REMINDER = "aftersales"
MAX_TEXT = 1000

define_area("aftersales", _l("After-sales"))
define("aftersales.complaint_days", "int", 3, _l("Complaint: days to resolve"),
       _l("A complaint is due this many days after it is registered (or reopened)."),
       min=1, max=365)
define("aftersales.repair_days", "int", 7, _l("Repair: days to resolve"), min=1, max=365)
define("aftersales.visit_days", "int", 5, _l("Home visit: days to resolve"), min=1, max=365)
define("aftersales.remind_every_days", "int", 3,
       _l("Overdue ticket: remind again every (days)"),
       _l("An open ticket goes on its assignee's worklist on its due day; while it stays open, "
          "again every this many days once the last reminder is done."), min=1, max=90)


class Ticket(TokenMixin, db.Model):
    """One customer problem, from registration to its outcome."""
    __tablename__ = "aftersales_tickets"
    __table_args__ = (
        CheckConstraint("kind IN ('complaint', 'repair', 'visit')", name="known_kind"),
        CheckConstraint("status IN ('open', 'in_progress', 'closed')", name="known_status"),
        CheckConstraint("status <> 'closed' OR outcome <> ''", name="closed_has_outcome"),
        Index("ix_aftersales_tickets_assignee_status", "assignee_id", "status"),
        Index("ix_aftersales_tickets_customer_status", "customer_id", "status"),
        Index("ix_aftersales_tickets_status_due", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SH + the local day registered + the id (SH20261208-00012).
    number: Mapped[str | None] = mapped_column(String(30), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(10))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    #: One of the customer's own orders, when the problem is about one.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    description: Mapped[str] = mapped_column(String(MAX_TEXT))
    #: The person responsible (a marketer, head or manager: they work "Today").
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: The assignee's department when assigned: their head sees the ticket.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"),
                                                      index=True)
    #: The company day it is to be resolved by: registered (or reopened) + the kind's days.
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="open")
    #: The company day it was registered (days to close count from it).
    opened_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Company days from registration to the (last) close; empty while open.
    days_to_close: Mapped[int | None] = mapped_column(Integer)
    #: How it was resolved: required to close; cleared when reopened (the notes keep it).
    outcome: Mapped[str] = mapped_column(String(MAX_TEXT), default="")

    customer = relationship("Customer", lazy="joined")
    assignee = relationship("User", foreign_keys=[assignee_id], lazy="joined")
    created_by = relationship("User", foreign_keys=[created_by_id], lazy="select")
    closed_by = relationship("User", foreign_keys=[closed_by_id], lazy="select")
    product = relationship("Product", lazy="select")
    order = relationship("Order", lazy="select")

    @property
    def kind_label(self):
        return KINDS.get(self.kind, self.kind)

    @property
    def status_label(self):
        return STATUSES.get(self.status, self.status)

    @property
    def is_open(self):
        """Not closed: open or in progress."""
        return self.status != "closed"

    def days_overdue(self, today=None):
        """How many days past its due date an unresolved ticket is on `today` (default: the
        company's today); 0 when not overdue."""
        today = today or local_day(utcnow())
        return max((today - self.due_date).days, 0) if self.is_open else 0


class TicketNote(TokenMixin, db.Model):
    """An entry appended to a ticket (never edited): a note, a hand-over, a status change with
    its outcome or reason — who and when."""
    __tablename__ = "aftersales_notes"
    __table_args__ = (
        CheckConstraint("kind IN ('note', 'assign', 'start', 'close', 'reopen')",
                        name="known_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("aftersales_tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(String(MAX_TEXT + 100), default="")
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    by = relationship("User", lazy="joined")

    @property
    def kind_label(self):
        return NOTE_KINDS.get(self.kind, self.kind)


# --- Reads -------------------------------------------------------------------------------------

def visible_tickets(user):
    """A select of the tickets `user` may see: those of the customers they may see, and those
    assigned to them (or, for a head, to their department's people)."""
    customers = visible_customers(user).with_only_columns(Customer.id)
    assigned = scope_clause(user, owner=Ticket.assignee_id, department=Ticket.department_id,
                            masked_roles_see_all=False)
    return select(Ticket).where(or_(Ticket.customer_id.in_(customers), assigned))


def get_ticket_or_404(ticket_id, user):
    """The ticket if `user` may see it, else NotFound."""
    ticket = None
    if isinstance(ticket_id, int) and 0 < ticket_id < 2**31:
        ticket = db.session.scalar(visible_tickets(user).where(Ticket.id == ticket_id))
    if ticket is None:
        raise NotFound(_("Not found, or not yours to see."))
    return ticket


def find_tickets(user, *, today, status="unresolved", kind=None, assignee_id=None,
                 overdue=False):
    """A select of the visible tickets, most urgent first. `status`: a status, "unresolved"
    (open or in progress) or "" for all; `overdue`: only unresolved ones past their due date."""
    query = visible_tickets(user)
    if status == "unresolved" or overdue:
        query = query.where(Ticket.status != "closed")
    elif status in STATUSES:
        query = query.where(Ticket.status == status)
    if kind in KINDS:
        query = query.where(Ticket.kind == kind)
    if assignee_id:
        query = query.where(Ticket.assignee_id == assignee_id)
    if overdue:
        query = query.where(Ticket.due_date < today)
    return query.order_by((Ticket.status == "closed"), Ticket.due_date, Ticket.id)


def open_tickets_of(customer):
    """The customer's unresolved tickets, soonest due first (for the warning on the customer's
    page and wherever a sale to them starts; the caller has checked the customer is visible)."""
    return db.session.scalars(select(Ticket).where(
        Ticket.customer_id == customer.id, Ticket.status != "closed")
        .options(lazyload(Ticket.customer))  # the one asked about, loaded already
        .order_by(Ticket.due_date, Ticket.id)).all()


def notes_of(ticket):
    """The entries of a ticket, oldest first."""
    return db.session.scalars(select(TicketNote).where(TicketNote.ticket_id == ticket.id)
                              .order_by(TicketNote.at, TicketNote.id)).all()


def assignable_users(actor):
    """A select of the people `actor` may make responsible for a ticket: active users holding
    a role that works a worklist (WORKER_ROLES) — anyone for a manager or admin, their
    department's (and below) for a head, their own department's for a marketer; always
    themselves."""
    workers = select(UserRole.user_id).where(UserRole.role.in_(WORKER_ROLES))
    query = select(User).where(User.is_active.is_(True), User.id.in_(workers)) \
        .order_by(User.display_name, User.id)
    if actor.has_role("admin", "manager"):
        return query
    reach = [User.id == actor.id]
    if actor.has_role("dept_head") and actor.department_id is not None:
        reach.append(User.department_id.in_(department_subtree(actor.department_id)))
    if actor.has_role("marketer") and actor.department_id is not None:
        reach.append(User.department_id == actor.department_id)
    return query.where(or_(*reach))


def default_assignee(customer, actor):
    """Whom a new ticket goes to unless chosen: the customer's marketer when the actor may
    choose them, else the actor."""
    owner_id = customer.owner_id
    if owner_id is not None and db.session.scalar(
            assignable_users(actor).where(User.id == owner_id)) is not None:
        return customer.owner
    return actor


def may_work(ticket, actor):
    """Whether `actor` may hand a ticket over or change its status: the person responsible,
    the customer's marketer, a head of the ticket's or the customer's department, a manager."""
    if actor.has_role("admin", "manager"):
        return True
    if actor.id in (ticket.assignee_id, ticket.customer.owner_id):
        return True
    if actor.has_role("dept_head") and actor.department_id is not None:
        tree = department_subtree_ids(actor.department_id)
        return ticket.department_id in tree or ticket.customer.department_id in tree
    return False


def due_date_for(kind, day):
    """The day a ticket of `kind` registered (or reopened) on `day` is due (settings)."""
    return day + timedelta(days=get_setting(f"aftersales.{kind}_days"))


# --- Operations --------------------------------------------------------------------------------

def _text(value, message, field):
    text = (value or "").strip()
    if not text:
        raise InvalidInput(message, field=field)
    if len(text) > MAX_TEXT:
        raise InvalidInput(_("At most %(n)s characters.", n=MAX_TEXT), field=field)
    return text


def _assignee(assignee_id, actor):
    user = db.session.scalar(assignable_users(actor).where(User.id == assignee_id)) \
        if assignee_id else None
    if user is None:
        raise InvalidInput(_("Choose the person responsible from the list."),
                           field="assignee_id")
    return user


def open_ticket(customer, *, kind, description, assignee_id, actor, token, product_id=None,
                order_id=None, now=None):
    """Register a customer's problem, assigned to a person, due by its kind's days. The
    caller has checked the customer is in the actor's scope. Idempotent on `token`."""
    now = now or utcnow()
    customer = lock_row(customer)  # a resubmission waits here for the first one's result
    if (prior := Ticket.by_token(token)) is not None:
        return prior
    if kind not in KINDS:
        raise InvalidInput(_("Choose what kind of problem it is."), field="kind")
    description = _text(description, _("Describe the problem."), "description")
    if order_id:
        order = db.session.get(Order, order_id)
        if order is None or order.customer_id != customer.id:
            raise InvalidInput(_("That order is not this customer's: choose one of their "
                                 "orders, or none."), field="order_id")
    if product_id and db.session.get(Product, product_id) is None:
        raise InvalidInput(_("Choose a product from the list."), field="product_id")
    assignee = _assignee(assignee_id, actor)
    today = local_day(now)
    ticket, new = add_once(Ticket(
        customer_id=customer.id, kind=kind, product_id=product_id or None,
        order_id=order_id or None, description=description, assignee_id=assignee.id,
        department_id=assignee.department_id, due_date=due_date_for(kind, today),
        status="open", opened_on=today, created_at=now, created_by_id=actor.id,
        token=token or None))
    if not new:
        return ticket
    ticket.number = document_number("SH", now, ticket.id)
    db.session.flush()
    audit(actor, "aftersales.open", ticket,
          summary=f"{ticket.number} {customer.name} {KINDS[kind]}",
          after={"kind": kind, "assignee": assignee.display_name,
                 "due_date": ticket.due_date.isoformat()}, now=now)
    return ticket


def add_note(ticket, *, text, actor, token, now=None):
    """Append a note to a ticket (anyone who may see it: a colleague who met the customer too).
    Idempotent on `token`."""
    now = now or utcnow()
    ticket = lock_row(ticket)
    if (prior := TicketNote.by_token(token)) is not None:
        return prior
    text = _text(text, _("Write the note."), "text")
    note, new = add_once(TicketNote(ticket_id=ticket.id, kind="note", text=text, by_id=actor.id,
                                    at=now, token=token or None))
    if new:
        audit(actor, "aftersales.note", ticket, summary=f"{ticket.number} {text[:100]}",
              now=now)
    return note


def assign_ticket(ticket, assignee_id, *, actor, token, note="", now=None):
    """Hand an unresolved ticket to another person; its open reminder goes with it.
    Idempotent on `token`."""
    now = now or utcnow()
    ticket = lock_row(ticket)
    if TicketNote.by_token(token) is not None:
        return ticket
    if not ticket.is_open:
        raise Conflict(_("This ticket is closed: reopen it before handing it over."))
    if not may_work(ticket, actor):
        raise PermissionDenied(_("Only the person responsible, the customer's marketer, their "
                                 "department head or a manager may change this ticket."))
    assignee = _assignee(assignee_id, actor)
    if assignee.id == ticket.assignee_id:
        raise InvalidInput(_("%(name)s is already responsible for this ticket.",
                             name=assignee.display_name), field="assignee_id")
    note = (note or "").strip()[:MAX_TEXT]
    before = ticket.assignee.display_name
    ticket.assignee_id, ticket.department_id = assignee.id, assignee.department_id
    db.session.execute(update(Task).where(
        Task.kind == REMINDER, Task.source_key == _source_key(ticket), Task.status == "open")
        .values(assignee_id=assignee.id, department_id=assignee.department_id)
        .execution_options(synchronize_session=False))
    add_once(TicketNote(ticket_id=ticket.id, kind="assign",
                        text=f"{before} → {assignee.display_name}" + (f"：{note}" if note else ""),
                        by_id=actor.id, at=now, token=token or None))
    db.session.flush()
    db.session.refresh(ticket, ["assignee"])
    audit(actor, "aftersales.assign", ticket, summary=ticket.number,
          before={"assignee": before}, after={"assignee": assignee.display_name}, now=now)
    return ticket


def change_ticket_status(ticket, status, *, actor, token, note="", now=None):
    """Move a ticket along TRANSITIONS: start work, close it with its outcome (`note`,
    required), or reopen it with the reason (`note`, required) — due again by its kind's days
    from the reopening. Closing marks its open reminder done. Idempotent on `token`."""
    now = now or utcnow()
    ticket = lock_row(ticket)
    if TicketNote.by_token(token) is not None:
        return ticket
    if status not in STATUSES:
        raise InvalidInput(_("Unknown status."), field="status")
    if not may_work(ticket, actor):
        raise PermissionDenied(_("Only the person responsible, the customer's marketer, their "
                                 "department head or a manager may change this ticket."))
    if status == ticket.status:
        raise Conflict(_("This ticket is already %(status)s.", status=ticket.status_label))
    if status not in TRANSITIONS[ticket.status]:
        raise Conflict(_("This ticket is %(now)s: it cannot become %(then)s.",
                         now=ticket.status_label, then=STATUSES[status]))
    today = local_day(now)
    before = {"status": ticket.status, "due_date": ticket.due_date.isoformat()}
    if status == "closed":
        note = _text(note, _("Write the outcome: how the problem was resolved."), "outcome")
        ticket.closed_at, ticket.closed_by_id, ticket.outcome = now, actor.id, note
        ticket.days_to_close = (today - ticket.opened_on).days
        db.session.execute(update(Task).where(
            Task.kind == REMINDER, Task.source_key == _source_key(ticket),
            Task.status == "open")
            .values(status="done", done_at=now, done_on=today, done_by_id=actor.id)
            .execution_options(synchronize_session=False))
    elif status == "open":
        note = _text(note, _("Say why the ticket is reopened."), "reason")
        ticket.closed_at = ticket.closed_by_id = ticket.days_to_close = None
        ticket.outcome = ""
        ticket.due_date = due_date_for(ticket.kind, today)
    else:
        note = (note or "").strip()[:MAX_TEXT]
    ticket.status = status
    add_once(TicketNote(ticket_id=ticket.id, kind=_ENTRY_OF[status], text=note, by_id=actor.id,
                        at=now, token=token or None))
    db.session.flush()
    audit(actor, "aftersales.status", ticket, summary=f"{ticket.number} {note[:100]}",
          before=before, after={"status": status, "due_date": ticket.due_date.isoformat()},
          now=now)
    return ticket


def _source_key(ticket):
    """The source of a ticket's reminder tasks (models.tasks: "ticket:12")."""
    return f"ticket:{ticket.id}"


# --- The customer's timeline, the audit log ----------------------------------------------------

def _ticket_url(ticket_id):
    return url_for("aftersales.show", ticket_id=ticket_id) if has_request_context() else None


@register_provider
def _ticket_items(customer, limit):
    items = []
    for ticket in db.session.scalars(select(Ticket).where(Ticket.customer_id == customer.id)
                                     .options(lazyload(Ticket.customer), lazyload(Ticket.assignee))
                                     .order_by(Ticket.created_at.desc()).limit(limit)):
        items.append(TimelineItem(
            at=ticket.created_at, kind="aftersales.open",
            title=_("After-sales %(kind)s registered: %(number)s", kind=ticket.kind_label,
                    number=ticket.number),
            detail=ticket.description, actor=ticket.created_by.display_name,
            url=_ticket_url(ticket.id)))
        if ticket.closed_at is not None:
            items.append(TimelineItem(
                at=ticket.closed_at, kind="aftersales.close",
                title=_("After-sales %(number)s closed", number=ticket.number),
                detail=ticket.outcome, actor=ticket.closed_by.display_name,
                url=_ticket_url(ticket.id)))
    return items


register_actions({
    "aftersales.open": _l("Registered an after-sales ticket"),
    "aftersales.note": _l("Added a note to an after-sales ticket"),
    "aftersales.assign": _l("Handed over an after-sales ticket"),
    "aftersales.status": _l("Changed an after-sales ticket's status"),
})
register_targets({"aftersales_tickets": _l("After-sales ticket")})
register_fields({"kind": _l("Kind of problem"), "assignee": _l("Responsible"),
                 "status": _l("Status"), "due_date": _lp("ticket", "Due date")},
                target_type="aftersales_tickets")
register_values({"kind": KINDS, "status": STATUSES}, target_type="aftersales_tickets")

"""The message jobs (issue #28): the reminder the day before an event, queued nightly for each
confirmed guest; and the messages the worklist jobs make from the tasks they write, when the
setting of the task's kind says so (models.messages.TASK_MESSAGE_SETTINGS, default off):

- care: the birthday (anniversary) greeting on the day itself, for each birthday (anniversary)
  task of that date — written a few days ahead so a gift can be ready, the greeting waits for
  the day;
- arrears: with each arrears task on its day — the template for before the due date while it is
  still ahead, the one for after it once it has passed — only while money is still due (金额 is
  what is due that night, 到期日 the order's due date);
- custody: with each pickup task on its day, while the customer still holds goods (商品 lists
  them).

A task skipped (by its marketer, or because the customer went to the pool) gets no message. Each
message goes through queue_message(), so check_message() rules on it (勿发短信, no mobile, quiet
hours: made at night, sent in the morning, the cap per day), with the task as its subject
("task:<id>"): the outbox's unique key (template, subject, customer) writes it once, so a re-run
night, a second scheduler or a catch-up queues nothing twice."""
import logging
from datetime import timedelta

from sqlalchemy import select

from extensions import db
from jobs import worklists
from models import custody, messages
from models.base import InvalidInput
from models.orders import OWING_STATUSES, Order
from models.settings import get_setting
from models.tasks import Task

logger = logging.getLogger(__name__)

JOB_REMINDERS = "event-reminders"
#: The names the worklist jobs are registered under (jobs/__init__.py): a message's made_by_job.
JOB_CARE, JOB_ARREARS, JOB_CUSTODY = "care", "arrears", "custody"


def event_reminders(day, now):
    """Queue the reminder template for the confirmed guests of the events starting the day
    after `day`; returns the messages queued (none without an active reminder template)."""
    template = messages.reminder_template()
    if template is None:
        logger.info("No active reminder template: no reminders queued")
        return 0
    written = 0
    for event in messages.events_on(day + timedelta(days=1)):
        queued, refused = messages.queue_event_messages(event, template, job=JOB_REMINDERS,
                                                        now=now)
        written += len(queued)
        logger.info("Event %s: %s reminders queued, %s not", event.id, len(queued),
                    len(refused))
    return written


# ---- messages from the tasks the worklist jobs write ------------------------------------------

def _sending(kind):
    """Whether the setting of the task kind says to send a message with it."""
    return bool(get_setting(messages.TASK_MESSAGE_SETTINGS[kind]))


def _tasks(kind, *where):
    """The tasks of `kind` (skipped ones left out) matching `where`, in the order written."""
    return db.session.scalars(select(Task).where(Task.kind == kind, Task.status != "skipped",
                                                 *where).order_by(Task.id)).all()


def _queue(task, template, job, now, **fields):
    """Queue `template` for the task's customer with the task as its subject; 1 if written, 0
    if a rule (or a field without a value) refused it."""
    customer = task.customer
    try:
        text = messages.render_text(template.body, messages.fields_for(customer, **fields))
        messages.queue_message(customer, text=text, channel=template.channel,
                               template=template, subject_key=f"task:{task.id}", job=job,
                               now=now)
    except InvalidInput as refused:
        logger.info("Task %s: no %s message (%s)", task.id, template.purpose, refused.message)
        return 0
    return 1


def greetings(day, now):
    """The birthday and anniversary greetings of the customers whose day is `day`."""
    written = 0
    for kind in ("birthday", "anniversary"):
        if not _sending(kind):
            continue
        template = messages.template_for(kind)
        if template is None:
            logger.info("No active %s template: no greetings queued", kind)
            continue
        for task in _tasks(kind, Task.source_key == f"{kind}:{day.isoformat()}"):
            written += _queue(task, template, JOB_CARE, now)
    return written


def arrears_reminders(day, now):
    """The arrears messages of the arrears tasks due on `day`, while money is still due."""
    if not _sending("arrears"):
        return 0
    before, after = messages.template_for("arrears_before"), messages.template_for(
        "arrears_after")
    tasks = _tasks("arrears", Task.due_date == day)
    order_ids = {int(task.source_key[6:]) for task in tasks
                 if task.source_key.startswith("order:") and task.source_key[6:].isdigit()}
    orders = {order.id: order for order in db.session.scalars(
        select(Order).where(Order.id.in_(order_ids)))} if order_ids else {}
    written = 0
    for task in tasks:
        order = orders.get(int(task.source_key[6:])) if task.source_key[6:].isdigit() else None
        if order is None or order.status not in OWING_STATUSES or order.balance_due <= 0 or \
                order.due_date is None:
            continue  # paid (or cancelled) since the task was written
        template = before if order.due_date > day else after
        if template is None:
            continue
        written += _queue(task, template, JOB_ARREARS, now, amount_fen=order.balance_due,
                          due=order.due_date)
    return written


def pickup_reminders(day, now):
    """The pickup messages of the custody pickup tasks due on `day`, while goods are held."""
    if not _sending("pickup"):
        return 0
    template = messages.template_for("pickup")
    if template is None:
        return 0
    written = 0
    for task in _tasks("pickup", Task.due_date == day):
        held = custody.balances_by_product(task.customer)
        if not held:
            continue  # collected since
        written += _queue(task, template, JOB_CUSTODY, now,
                          product="、".join(f"{product.name}×{n}" for product, n in held))
    return written


# ---- the worklist jobs with their messages (registered in jobs/__init__.py) -------------------

def care(day, now):
    """Birthday and anniversary care tasks (worklists.care), then the day's greetings."""
    return worklists.care(day, now) + greetings(day, now)


def arrears(day, now):
    """Arrears collection tasks (worklists.arrears), then the messages of those due today."""
    return worklists.arrears(day, now) + arrears_reminders(day, now)


def custody_and_pickup(day, now):
    """Custody tasks (worklists.custody_reminders), then the pickup messages due today."""
    return worklists.custody_reminders(day, now) + pickup_reminders(day, now)

"""Messages to customers (短信 and 微信, issue #28): templates with named fields, and the outbox.

A template is Chinese text with named fields in braces ({称呼}您好，{会议名称}定于{时间}在{地点}…);
an unknown field is refused when the template is saved. A message is one row of the outbox:
the customer, the template, the text as sent, the channel (sms / wechat), its status (queued →
sent → delivered, or failed / cancelled), the provider's id and error, the cost in fen, and who
made it — a user or a job. Every path that makes a message (an event's guests in bulk, one
customer's page, the nightly reminder) goes through queue_message(), and queue_message() asks
check_message() — the one place the rules live:

- the customer's 勿发短信 flag and a mobile to send an SMS to;
- quiet hours (settings, company time): a message made then waits (send_after) until morning;
- a cap of messages per customer per company day (setting);
- never the same template for the same subject twice: unique (template, subject key, customer),
  the way tasks are written once per key.

The sender (jobs/messages.py) takes queued messages whose send_after has come. Operations
flush, audit and return; the route, job or command commits.
"""
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import (JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, func, or_, select, text as sql, update)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, contains_eager, lazyload, mapped_column, relationship, \
    selectinload

from extensions import db
from formatting import fen, national_phone, parse_id
from models.audit import audit, register_actions, register_fields, register_targets, \
    register_values
from models.base import Conflict, InvalidInput, NotFound, UTCDateTime, utcnow
from models.customers import Customer
from models.events import INVITATION_STATUSES, Event, Invitation, visible_invitations
from models.clock import at_local, day_bounds, local_day, local_moment
from models.scoping import scope_clause
from models.settings import define, define_area, get_setting
from models.timeline import TimelineItem, register_provider

CHANNELS = {"sms": _l("SMS"), "wechat": _l("WeChat")}
STATUSES = {"queued": _l("Queued"), "sent": _l("Sent"), "delivered": _l("Delivered"),
            "failed": _l("Failed"), "cancelled": _l("Cancelled")}
#: What a template is for (issue #28 §1).
PURPOSES = {"confirmation": _l("Invitation confirmation"),
            "reminder": _l("Reminder the day before"),
            "birthday": _l("Birthday greeting"), "anniversary": _l("Anniversary greeting"),
            "arrears_before": _l("Arrears: before the due date"),
            "arrears_after": _l("Arrears: after the due date"),
            "pickup": _l("Custody pickup reminder"), "usage_guide": _l("Usage guide"),
            "free": _l("Free text")}
#: The named fields a template may use, in the order the editor lists them.
FIELDS = ("姓名", "称呼", "会议名称", "时间", "地点", "顾问", "顾问电话", "金额", "到期日", "商品")
_FIELD = re.compile(r"\{([^{}]*)\}")
#: One SMS holds 70 Chinese characters; a longer text goes in parts of 67 each.
SINGLE_PART, MULTI_PART = 70, 67
MAX_TEXT = 500
#: Surnames of two characters (欧阳秀英 → 欧阳阿姨); any other name's surname is its first.
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容",
                     "令狐", "夏侯", "长孙", "宇文", "司徒", "端木", "独孤", "南宫", "轩辕")

define_area("messages", _l("Messages"))
define("messages.quiet_from_hour", "int", 21, _l("Quiet hours begin at (hour)"),
       _l("A message made from this hour (company time) waits until the quiet hours end."),
       min=0, max=23)
define("messages.quiet_until_hour", "int", 8, _l("Quiet hours end at (hour)"), min=0, max=23)
define("messages.daily_cap", "int", 3, _l("Messages per customer per day, at most"),
       min=1, max=50)
define("messages.sms_part_fen", "int", 4, _l("Cost of one SMS part (fen)"), min=0, max=1000)
#: Task kind → the setting that says its nightly job also makes a message (default off), with
#: the template of its purpose (jobs/messages.py).
TASK_MESSAGE_SETTINGS = {"birthday": "messages.send_birthday",
                         "anniversary": "messages.send_anniversary",
                         "arrears": "messages.send_arrears", "pickup": "messages.send_pickup"}
define("messages.send_birthday", "bool", False, _l("Send the birthday greeting on the birthday"),
       _l("The nightly care job queues the active birthday greeting template for each "
          "birthday task whose birthday is that day."))
define("messages.send_anniversary", "bool", False,
       _l("Send the anniversary greeting on the day"))
define("messages.send_arrears", "bool", False,
       _l("Send the arrears reminder with each arrears task"),
       _l("Before the due date with the template for before it, after it with the one for "
          "after; only while money is still due."))
define("messages.send_pickup", "bool", False,
       _l("Send the pickup reminder with each custody pickup task"))

register_actions({"message_template_save": _l("Saved a message template"),
                  "message_bulk": _l("Queued messages to an event's guests"),
                  "message_cancel": _l("Cancelled a message"),
                  "message_wechat_sent": _l("Sent a WeChat message from their phone")})
register_targets({"message_templates": _l("Message template"), "messages": _l("Message")})
register_fields({"body": _l("Text"), "purpose": _l("Purpose"), "channel": _l("Channel")},
                "message_templates")
register_values({"purpose": PURPOSES, "channel": CHANNELS}, "message_templates")


class MessageRefused(InvalidInput):
    """A rule says no to this message (勿发短信, no mobile, the day's cap, already sent)."""


class MessageTemplate(db.Model):
    """A text an admin writes once, with named fields filled in per customer."""
    __tablename__ = "message_templates"
    __table_args__ = (CheckConstraint("channel IN ('sms', 'wechat')", name="known_channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    purpose: Mapped[str] = mapped_column(String(20), default="free")
    #: The channel it is sent on unless the sender chooses the other.
    channel: Mapped[str] = mapped_column(String(10), default="sms")
    body: Mapped[str] = mapped_column(String(MAX_TEXT))
    #: The provider's approved template code (Aliyun SMS_123456789), when the provider needs one.
    provider_code: Mapped[str] = mapped_column(String(40), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def purpose_label(self):
        return PURPOSES.get(self.purpose, self.purpose)

    @property
    def channel_label(self):
        return CHANNELS.get(self.channel, self.channel)


class Message(db.Model):
    """One message to one customer: the outbox row, from queued to its outcome."""
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("template_id", "subject_key", "customer_id", name="uq_messages_key"),
        # A free text has no template (NULL is never equal): its key is the subject alone.
        Index("uq_messages_free_key", "customer_id", "subject_key", unique=True,
              sqlite_where=sql("template_id IS NULL"),
              postgresql_where=sql("template_id IS NULL")),
        CheckConstraint("channel IN ('sms', 'wechat')", name="known_channel"),
        CheckConstraint("status IN ('queued', 'sent', 'delivered', 'failed', 'cancelled')",
                        name="known_status"),
        CheckConstraint("cost_fen >= 0", name="cost_not_negative"),
        # The sender's scan: the queued messages whose time has come.
        Index("ix_messages_status_send_after", "status", "send_after"),
        # The cap per day and the customer's timeline.
        Index("ix_messages_customer_created", "customer_id", "created_at"),
        # The outbox list, newest first, filtered by status or channel (1,000,000 rows).
        Index("ix_messages_status_id", "status", "id"),
        Index("ix_messages_channel_status_id", "channel", "status", "id"),
        # A marketer's WeChat messages on Today, and the counts per marketer.
        Index("ix_messages_made_by_channel_status", "made_by_id", "channel", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("message_templates.id"))
    #: The event it is about (invitation, reminder), for the counts per event.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    #: What the message is about, unique with the template and customer ("event:12",
    #: "birthday:2026", "manual:<form token>"): the same template is never sent twice for it.
    subject_key: Mapped[str] = mapped_column(String(60))
    channel: Mapped[str] = mapped_column(String(10))
    #: The text as sent (fields filled in).
    text: Mapped[str] = mapped_column(Text)
    #: The fields the text was filled with ({"称呼": "张阿姨", …}): a provider that sends its own
    #: approved template (Aliyun) is given these as the template's parameters.
    params: Mapped[dict | None] = mapped_column(JSON)
    #: The number the SMS went to (E.164), as it was when queued.
    phone: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[str] = mapped_column(String(10), default="queued")
    #: Not sent before this moment (quiet hours move it to the morning).
    send_after: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_id: Mapped[str] = mapped_column(String(80), default="")
    error: Mapped[str] = mapped_column(String(300), default="")
    #: When the provider was last asked whether a sent message was delivered.
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: SMS parts × the price of one part (setting); 0 for WeChat.
    cost_fen: Mapped[int] = mapped_column(Integer, default=0)
    #: The user who made it, or the job (made_by_job) that did.
    made_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    made_by_job: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer = relationship("Customer", lazy="joined")
    template = relationship("MessageTemplate", lazy="select")
    made_by = relationship("User", lazy="select")

    @property
    def status_label(self):
        return STATUSES.get(self.status, self.status)

    @property
    def channel_label(self):
        return CHANNELS.get(self.channel, self.channel)


# ---- text -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Length:
    chars: int
    parts: int


def sms_length(text):
    """Characters and SMS parts: one part holds 70, a longer text goes in parts of 67."""
    chars = len(text or "")
    if chars == 0:
        return Length(0, 0)
    return Length(chars, 1 if chars <= SINGLE_PART else math.ceil(chars / MULTI_PART))


def fields_in(body):
    """The names of the fields a template's text uses, in order."""
    return _FIELD.findall(body or "")


def check_body(body):
    """A template's text, stripped; an unknown field (or an empty text) raises InvalidInput."""
    body = (body or "").strip()
    if not body:
        raise InvalidInput(_("Enter the text of the message."), field="body")
    if len(body) > MAX_TEXT:
        raise InvalidInput(_("The text is at most %(n)s characters.", n=MAX_TEXT), field="body")
    unknown = [name for name in fields_in(body) if name not in FIELDS]
    if unknown:
        raise InvalidInput(_("Unknown field {%(field)s}. The fields are: %(known)s",
                             field=unknown[0], known=" ".join(f"{{{n}}}" for n in FIELDS)),
                           field="body")
    if "{" in _FIELD.sub("", body) or "}" in _FIELD.sub("", body):
        raise InvalidInput(_("A brace without its pair: write a field as {姓名}."), field="body")
    return body


def surname_of(name):
    """张 of 张秀兰, 欧阳 of 欧阳秀英."""
    name = (name or "").strip()
    return name[:2] if name[:2] in COMPOUND_SURNAMES else name[:1]


def address_form_of(customer):
    """The customer's form of address: as kept on the customer, else from gender and age
    (阿姨/叔叔 from 50, 女士/先生 below or unknown age)."""
    if customer.address_form:
        return customer.address_form
    age = customer.age
    if customer.gender == "F":
        return "阿姨" if age is not None and age >= 50 else "女士"
    if customer.gender == "M":
        return "叔叔" if age is not None and age >= 50 else "先生"
    return ""


def salutation_of(customer):
    """张阿姨; the full name when there is no form of address."""
    form = address_form_of(customer)
    return surname_of(customer.name) + form if form else customer.name


def fields_for(customer, *, event=None, amount_fen=None, due=None, product=None):
    """The values of the named fields for one customer (and what the message is about)."""
    owner = customer.owner
    values = {"姓名": customer.name, "称呼": salutation_of(customer),
              "顾问": owner.display_name if owner else "",
              "顾问电话": national_phone(owner.phone) if owner else ""}
    if event is not None:
        values.update(event_fields(event))
    if amount_fen is not None:
        values["金额"] = fen(amount_fen)
    if due is not None:
        values["到期日"] = f"{due.month}月{due.day}日"
    if product is not None:
        values["商品"] = getattr(product, "name", product)
    return values


def event_fields(event):
    """The named fields of an event: its title, start (company time) and place."""
    start = local_moment(event.starts_at)
    return {"会议名称": event.title, "时间": f"{start.month}月{start.day}日 {start:%H:%M}",
            "地点": " ".join(part for part in (event.venue, event.address) if part)}


def render_text(body, values):
    """The template's text with its fields filled in; a field without a value raises
    InvalidInput naming it (a reminder's {会议名称} sent without an event)."""
    missing = [name for name in fields_in(body) if not values.get(name)]
    if missing:
        raise InvalidInput(_("The message needs {%(field)s}, which this customer has no value "
                             "for.", field=missing[0]))
    return _FIELD.sub(lambda match: str(values[match.group(1)]), body)


def params_of(body, values):
    """The fields a template's text uses with the values it was filled with (the parameters
    a provider's own approved template is sent with)."""
    return {name: str(values[name]) for name in fields_in(body) if values.get(name)}


# ---- templates ----------------------------------------------------------------------------

def visible_templates(active_only=False):
    query = select(MessageTemplate).order_by(MessageTemplate.name)
    if active_only:
        query = query.where(MessageTemplate.is_active.is_(True))
    return db.session.scalars(query).all()


def save_template(template, *, name, body, purpose="free", channel="sms", provider_code="",
                  is_active=True, actor, now=None):
    """Create (template None) or change a template; unknown fields and names taken are refused."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("Enter a name."), field="name")
    if purpose not in PURPOSES:
        raise InvalidInput(_("Choose what the template is for."), field="purpose")
    if channel not in CHANNELS:
        raise InvalidInput(_("Choose a channel."), field="channel")
    body = check_body(body)
    taken = db.session.scalar(select(MessageTemplate.id).where(MessageTemplate.name == name))
    if taken is not None and (template is None or taken != template.id):
        raise InvalidInput(_("A template named %(name)s already exists.", name=name),
                           field="name")
    before = None
    if template is None:
        template = MessageTemplate()
        db.session.add(template)
    else:
        before = {"name": template.name, "body": template.body, "purpose": template.purpose,
                  "channel": template.channel}
    template.name, template.body, template.purpose, template.channel = name, body, purpose, \
        channel
    template.provider_code = (provider_code or "").strip()[:40]
    template.is_active = bool(is_active)
    template.updated_at, template.updated_by_id = now or utcnow(), getattr(actor, "id", None)
    db.session.flush()
    audit(actor, "message_template_save", template, before=before,
          after={"name": name, "body": body, "purpose": purpose, "channel": channel})
    return template


# ---- the rules and the queue --------------------------------------------------------------

def has_mobile(customer):
    """The customer's phone is a mainland mobile (+861…, 11 digits)."""
    phone = customer.phone or ""
    return phone.startswith("+861") and len(phone) == 14


def quiet_until(now):
    """The end of the quiet hours when `now` is in them, else None."""
    start, end = get_setting("messages.quiet_from_hour"), get_setting("messages.quiet_until_hour")
    if start == end:
        return None
    local = local_moment(now)
    hour = local.hour
    quiet = (start <= hour or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return None
    day = local.date()
    if hour >= end and (start > end or hour >= start):
        day += timedelta(days=1)
    return at_local(day, time(end))


def sent_today(customer_id, now):
    """Messages made for the customer on the company day of `now` (cancelled ones not counted)."""
    start, end = day_bounds(local_day(now))
    return db.session.scalar(select(func.count(Message.id)).where(
        Message.customer_id == customer_id, Message.created_at >= start,
        Message.created_at < end, Message.status != "cancelled"))


def existing_message(template, subject_key, customer):
    """The message already made with this key, if any."""
    template_id = getattr(template, "id", None)
    return db.session.scalar(select(Message).where(
        Message.template_id == template_id if template_id is not None
        else Message.template_id.is_(None),
        Message.subject_key == subject_key, Message.customer_id == customer.id))


def check_message(customer, channel, *, template, subject_key, now, pending=0, known=None):
    """The rules every message obeys, in one place: returns the moment it may be sent (the end
    of the quiet hours, or now), or raises MessageRefused saying why in the user's words.

    `pending` counts the customer's messages made in the same batch but not yet written;
    `known` (a Known, read once for a whole batch) answers "already sent" and "how many
    today" instead of two queries per customer."""
    if channel not in CHANNELS:
        raise InvalidInput(_("Choose a channel."), field="channel")
    if channel == "sms":
        if customer.do_not_sms:
            raise MessageRefused(_("%(name)s does not want SMS (勿发短信).", name=customer.name))
        if not has_mobile(customer):
            raise MessageRefused(_("%(name)s has no mobile number.", name=customer.name))
    if (customer.id in known.existing if known is not None
            else existing_message(template, subject_key, customer) is not None):
        raise MessageRefused(_("%(name)s already has this message (%(template)s).",
                               name=customer.name,
                               template=template.name if template else _("Free text")))
    cap = known.cap if known is not None else get_setting("messages.daily_cap")
    today = known.today.get(customer.id, 0) if known is not None \
        else sent_today(customer.id, now)
    if today + pending >= cap:
        raise MessageRefused(_("%(name)s has had %(n)s messages today, the most a day.",
                               name=customer.name, n=cap))
    return known.send_at if known is not None else quiet_until(now) or now


def cost_of(text, channel):
    """The cost in fen of sending `text`: SMS parts × the price of one part; WeChat is free."""
    if channel != "sms":
        return 0
    return sms_length(text).parts * get_setting("messages.sms_part_fen")


def queue_message(customer, *, text, channel, template=None, subject_key, event=None,
                  made_by=None, job="", now=None, pending=0, params=None):
    """Put one message in the outbox after check_message(); returns it. The unique key refuses
    a second one for the same template, subject and customer, even from a concurrent request.
    `params`: the fields the text was filled with (params_of())."""
    now = now or utcnow()
    text = (text or "").strip()
    if not text:
        raise InvalidInput(_("Enter the text of the message."), field="body")
    if len(text) > MAX_TEXT:
        raise InvalidInput(_("The text is at most %(n)s characters.", n=MAX_TEXT), field="body")
    send_after = check_message(customer, channel, template=template, subject_key=subject_key,
                               now=now, pending=pending)
    message = _new_message(customer, text=text, channel=channel, template=template,
                           subject_key=subject_key, event=event, made_by=made_by, job=job,
                           now=now, send_after=send_after, params=params)
    try:
        with db.session.begin_nested():
            db.session.add(message)
    except IntegrityError:
        raise MessageRefused(_("%(name)s already has this message (%(template)s).",
                               name=customer.name,
                               template=template.name if template else _("Free text"))) \
            from None
    return message


def _new_message(customer, *, text, channel, template, subject_key, event, made_by, job, now,
                 send_after, params):
    return Message(customer_id=customer.id, template_id=getattr(template, "id", None),
                   event_id=getattr(event, "id", None), subject_key=subject_key[:60],
                   channel=channel, text=text, params=params or None,
                   phone=customer.phone if channel == "sms" else "", status="queued",
                   send_after=send_after, cost_fen=cost_of(text, channel),
                   made_by_id=getattr(made_by, "id", None), made_by_job=job, created_at=now)


def cancel_message(message, *, actor, now=None):
    """Cancel a queued message (it will not be sent)."""
    if message.status != "queued":
        raise Conflict(_("Only a queued message can be cancelled."))
    message.status = "cancelled"
    db.session.flush()
    audit(actor, "message_cancel", message, before={"status": "queued"},
          after={"status": "cancelled"}, now=now)
    return message


@register_provider
def _timeline(customer, limit):
    rows = db.session.scalars(select(Message).where(Message.customer_id == customer.id)
                              .options(lazyload(Message.customer))  # the page's own customer
                              .order_by(Message.created_at.desc()).limit(limit))
    return [TimelineItem(at=row.created_at, kind=f"message.{row.channel}",
                         title=f"{row.channel_label} · {row.status_label}", detail=row.text,
                         actor=row.made_by.display_name if row.made_by else row.made_by_job)
            for row in rows]


# ---- making messages ----------------------------------------------------------------------

@dataclass(frozen=True)
class Draft:
    """One message as it would be made: the text, or the reason it will not be."""
    customer: object
    text: str
    refused: str = ""
    send_after: datetime | None = None
    params: dict | None = None


def event_guests(event):
    """The event's confirmed guests, by name."""
    return db.session.scalars(
        select(Customer).join(Invitation, Invitation.customer_id == Customer.id)
        .where(Invitation.event_id == event.id, Invitation.status == "confirmed")
        .order_by(Customer.name, Customer.id)).all()


def event_subject(event):
    return f"event:{event.id}"


def draft_message(customer, template, *, channel, subject_key, now, event=None, known=None,
                  about=None):
    """What queue_message would make for one customer: the text, or why not (nothing written).
    `about`: the event's fields (event_fields), read once for a batch."""
    try:
        values = fields_for(customer, event=event if about is None else None)
        values.update(about or {})
        text = render_text(template.body, values)
        if len(text) > MAX_TEXT:
            raise InvalidInput(_("The text is at most %(n)s characters.", n=MAX_TEXT))
        send_after = check_message(customer, channel, template=template,
                                   subject_key=subject_key, now=now, known=known)
    except InvalidInput as refused:
        return Draft(customer, "", str(refused.message))
    return Draft(customer, text, send_after=send_after, params=params_of(template.body, values))


def preview_event_messages(event, template, *, channel=None, now=None):
    """The messages to the event's confirmed guests, previewed: a Draft each."""
    return preview_bulk(event, template, event_guests(event),
                        channel=channel or template.channel, now=now).drafts


def queue_event_messages(event, template, *, channel=None, actor=None, job="", now=None):
    """Queue the template for each of the event's confirmed guests the rules allow, in the
    caller's one transaction; returns (messages queued, drafts refused)."""
    return queue_bulk(event, template, event_guests(event), channel=channel or template.channel,
                      actor=actor, job=job, now=now)


def queue_customer_message(customer, *, template=None, text=None, channel, actor, token,
                           now=None):
    """One message from a customer's page: the template's text (or free text) for this
    customer. The form's one-time token is its subject, so a double submission queues one."""
    if not token:
        raise InvalidInput(_("The form has expired; please try again."))
    params = None
    if template is not None and not text:
        values = fields_for(customer)
        text, params = render_text(template.body, values), params_of(template.body, values)
    elif text:
        text, values = check_body(text), fields_for(customer)
        text, params = render_text(text, values), params_of(text, values)
    return queue_message(customer, text=text, channel=channel, template=template,
                         subject_key=f"manual:{token}", made_by=actor, now=now, params=params)


def template_for(purpose):
    """The active template for `purpose` (the oldest, when there are several), or None."""
    return db.session.scalar(select(MessageTemplate).where(
        MessageTemplate.purpose == purpose, MessageTemplate.is_active.is_(True))
        .order_by(MessageTemplate.id).limit(1))


def reminder_template():
    """The active template for the reminder the day before an event (the oldest), or None."""
    return template_for("reminder")


def events_on(day):
    """The events (open or under way) starting on the company's `day`."""
    start, end = day_bounds(day)
    return db.session.scalars(select(Event).where(
        Event.starts_at >= start, Event.starts_at < end,
        Event.status.in_(("open", "in_progress"))).order_by(Event.id)).all()


# ---- sending ------------------------------------------------------------------------------

define("messages.provider", "str", "log", _l("SMS provider"),
       _l("Log only writes what it would send (development, demo); Aliyun SMS sends with the "
          "credentials of the server's environment."),
       choices=(("log", _l("Log only")), ("aliyun", _l("Aliyun SMS"))))
define("messages.aliyun_sign_name", "str", "", _l("Aliyun SMS signature name"),
       _l("The signature (签名) approved in the Aliyun SMS console, e.g. 会销通. The AccessKey "
          "comes only from the server's environment: ALIBABA_CLOUD_ACCESS_KEY_ID and "
          "ALIBABA_CLOUD_ACCESS_KEY_SECRET."), max_length=40)
_ENDPOINT = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def _check_endpoint(value, definition):
    if not _ENDPOINT.fullmatch(value):
        raise InvalidInput(_("Enter a host name such as dysmsapi.aliyuncs.com (no http://)."),
                           field=definition.key)


define("messages.aliyun_endpoint", "str", "dysmsapi.aliyuncs.com", _l("Aliyun SMS endpoint"),
       _l("The host the SMS requests go to; the default suits mainland China."),
       max_length=100, check=_check_endpoint)
define("messages.aliyun_protocol", "str", "https", _l("Aliyun SMS protocol"),
       choices=(("https", _l("Encrypted")),
                ("http", _l("Unencrypted (a local test server only)"))))


def due_messages(now, limit=200):
    """Queued SMS whose time has come, oldest first, locked for this sender (PostgreSQL skips
    rows another sender holds; SQLite's write lock is one sender at a time)."""
    return db.session.scalars(select(Message).where(
        Message.status == "queued", Message.channel == "sms", Message.send_after <= now)
        .order_by(Message.id).limit(limit).options(lazyload(Message.customer))
        .with_for_update(skip_locked=True, of=Message)).all()


def mark_sent(message, *, provider_id="", now=None, actor=None, flush=True):
    """A queued message was accepted by the provider (or, on WeChat, sent by the marketer).
    `flush=False`: the sender flushes a batch's answers at once (one statement for them)."""
    if message.status != "queued":
        raise Conflict(_("This message is no longer queued."))
    message.status, message.sent_at = "sent", now or utcnow()
    message.provider_id, message.error = (provider_id or "")[:80], ""
    if flush:
        db.session.flush()
    return message


def mark_failed(message, *, error, now=None, flush=True):
    """The provider refused a queued message for good (or reported a sent one undelivered)."""
    message.status, message.error = "failed", (error or "")[:300]
    if flush:
        db.session.flush()
    return message


def retry_later(message, *, error, send_after, flush=True):
    """A provider's temporary refusal (throttling, 5xx): the message stays queued until
    `send_after`, with the error it met."""
    if message.status != "queued":
        raise Conflict(_("This message is no longer queued."))
    message.error, message.send_after = (error or "")[:300], send_after
    if flush:
        db.session.flush()
    return message


def sent_to_check(now, *, every, within, limit=200):
    """SMS the provider accepted whose delivery is not known yet: sent in the last `within`,
    not asked about in the last `every`, those never asked first (then the longest ago)."""
    return db.session.scalars(select(Message).where(
        Message.status == "sent", Message.channel == "sms",
        Message.provider_id.not_like("log-%"), Message.sent_at >= now - within,
        Message.sent_at <= now - timedelta(minutes=1),
        (Message.checked_at.is_(None)) | (Message.checked_at <= now - every))
        .order_by(Message.checked_at.is_not(None), Message.checked_at, Message.id)
        .limit(limit).options(lazyload(Message.customer))).all()


def mark_delivery(message, *, status, error="", now=None, flush=True):
    """What the provider reported of a sent message: "delivered", "failed" (with its error
    code) or None (not known yet: asked again later)."""
    message.checked_at = now or utcnow()
    if message.status == "sent" and status == "delivered":
        message.status, message.error = "delivered", ""
    elif message.status == "sent" and status == "failed":
        message.status, message.error = "failed", (error or "")[:300]
    if flush:
        db.session.flush()
    return message


# ---- WeChat, sent by the marketer from their own phone (§4) ---------------------------------

#: The most WeChat messages "Today" lists at once (the oldest first: the rest follow as these
#: are sent).
WECHAT_SHOWN = 100


def _theirs(user):
    """A clause: the message is the user's to send — made for a customer they own, or by them."""
    return or_(Message.made_by_id == user.id, Customer.owner_id == user.id)


def wechat_to_send(user, limit=WECHAT_SHOWN):
    """The queued WeChat messages `user` is to send from their phone, oldest first."""
    return db.session.scalars(
        select(Message).join(Customer, Customer.id == Message.customer_id)
        .where(Message.channel == "wechat", Message.status == "queued", _theirs(user))
        .order_by(Message.send_after, Message.id).limit(limit)).all()


def invitation_cards_of(messages):
    """{message id: invitation id} of the messages about an event whose customer is invited to
    it: the invitation card (as an image) goes to WeChat with the text."""
    about = {(x.event_id, x.customer_id): x.id for x in messages if x.event_id is not None}
    if not about:
        return {}
    found = db.session.execute(select(Invitation.event_id, Invitation.customer_id, Invitation.id)
                               .where(Invitation.event_id.in_({e for e, _c in about}),
                                      Invitation.customer_id.in_({c for _e, c in about})))
    return {about[(event_id, customer_id)]: invitation_id
            for event_id, customer_id, invitation_id in found
            if (event_id, customer_id) in about}


def get_wechat_message_or_404(message_id, user):
    """A WeChat message that is `user`'s to send (any status); another's raises NotFound."""
    message = db.session.scalar(
        select(Message).join(Customer, Customer.id == Message.customer_id)
        .where(Message.id == message_id, Message.channel == "wechat", _theirs(user)))
    if message is None:
        raise NotFound(_("Not found, or not yours to see."))
    return message


def mark_copied_sent(message, *, actor, now=None):
    """The marketer copied a queued WeChat message into WeChat and sent it: mark it sent.

    Idempotent: a message already sent (a second tap, another tab) stays as it was and is
    returned — the status moves once, by a conditional UPDATE, so two taps at once write one
    audit row. Only the marketer whose message it is (the customer's owner, or who made it)
    may; for anyone else it does not exist (NotFound). A cancelled one is refused."""
    if message.channel != "wechat" or actor is None or not (
            message.made_by_id == actor.id or message.customer.owner_id == actor.id):
        raise NotFound(_("Not found, or not yours to see."))
    now = now or utcnow()
    moved = db.session.execute(
        update(Message).where(Message.id == message.id, Message.status == "queued")
        .values(status="sent", sent_at=now, error="")
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(message)
    if moved:
        audit(actor, "message_wechat_sent", message, before={"status": "queued"},
              after={"status": "sent"}, now=now)
    elif message.status not in ("sent", "delivered"):
        raise Conflict(_("This message was cancelled: it is not to be sent."))
    return message


# ---- the screens: the outbox list, bulk sends, previews -----------------------------------

def get_template_or_404(template_id):
    """The template with this id, else NotFound."""
    template = db.session.get(MessageTemplate, template_id) \
        if parse_id(template_id) is not None else None
    if template is None:
        raise NotFound(_("Not found, or not yours to see."))
    return template


def visible_messages(user):
    """A select of the messages to the customers `user` may see — for a marketer, their own
    customers' (not the public pool's: a pooled customer's messages were someone else's)."""
    return select(Message).join(Customer, Message.customer_id == Customer.id).where(
        scope_clause(user, owner=Customer.owner_id, department=Customer.department_id))


def get_message_or_404(message_id, user):
    """The message if `user` may see its customer, else NotFound."""
    message = db.session.scalar(visible_messages(user).where(Message.id == message_id)) \
        if parse_id(message_id) is not None else None
    if message is None:
        raise NotFound(_("Not found, or not yours to see."))
    return message


@dataclass(frozen=True)
class OutboxFilters:
    """What the outbox list is narrowed to; `before_id` is the keyset of the next page (the
    messages older than that one)."""
    status: str = ""
    channel: str = ""
    event_id: int | None = None
    #: The customers' marketer (owner).
    marketer_id: int | None = None
    day_from: date | None = None
    day_to: date | None = None
    before_id: int | None = None


#: Messages on one page of the outbox.
OUTBOX_PAGE = 50


def outbox_query(user, filters, limit=OUTBOX_PAGE):
    """The outbox newest first, as `user` may see it, narrowed by `filters`: one more row than
    `limit`, so the page knows whether there is a next one. A keyset page (id < before_id),
    never an OFFSET, so the millionth message is as quick to reach as the first (the indexes
    on (status, id) and (channel, status, id) serve the filters)."""
    query = visible_messages(user)
    if filters.status in STATUSES:
        query = query.where(Message.status == filters.status)
    if filters.channel in CHANNELS:
        query = query.where(Message.channel == filters.channel)
    if filters.event_id:
        query = query.where(Message.event_id == filters.event_id)
    if filters.marketer_id:
        query = query.where(Customer.owner_id == filters.marketer_id)
    if filters.day_from:
        query = query.where(Message.created_at >= day_bounds(filters.day_from)[0])
    if filters.day_to:
        query = query.where(Message.created_at < day_bounds(filters.day_to)[1])
    if filters.before_id:
        query = query.where(Message.id < filters.before_id)
    return query.order_by(Message.id.desc()).limit(limit + 1)


@dataclass(frozen=True)
class OutboxPage:
    rows: list
    #: The before_id of the next page, or None on the last one.
    next_before: int | None


def outbox_page(user, filters, limit=OUTBOX_PAGE):
    """One page of the outbox (outbox_query), with who made each message and its template
    read in two more queries."""
    rows = db.session.scalars(outbox_query(user, filters, limit).options(
        contains_eager(Message.customer), selectinload(Message.made_by),
        selectinload(Message.template))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return OutboxPage(rows, rows[-1].id if more else None)


#: Whom a bulk send from an invitation list goes to.
BULK_WHO = {"confirmed": _l("The confirmed guests"),
            "filter": _l("The list as filtered")}


def bulk_recipients(event, user, *, who="confirmed", status="", inviter_id=None):
    """The customers a bulk send from the event's invitation list goes to — its confirmed
    guests, or the list as filtered (status, inviter) — of those `user` may see, by name."""
    invitations = visible_invitations(user, event).with_only_columns(Invitation.customer_id)
    if who == "confirmed":
        invitations = invitations.where(Invitation.status == "confirmed")
    else:
        if status in INVITATION_STATUSES:
            invitations = invitations.where(Invitation.status == status)
        if inviter_id:
            invitations = invitations.where(Invitation.inviter_id == inviter_id)
    # The owner (the adviser of {顾问}) read once per owner, not joined on each row; the rest
    # of what a customer loads with is not needed for a message.
    return db.session.scalars(select(Customer).where(Customer.id.in_(invitations))
                              .options(lazyload("*"), selectinload(Customer.owner))
                              .order_by(Customer.name, Customer.id)).all()


@dataclass(frozen=True)
class Known:
    """What the rules ask of the outbox for a batch of customers, read once: the customers
    who already have the message, and how many each has had today."""
    existing: frozenset
    today: dict
    #: The day's cap, and when a message made now may be sent (the quiet hours).
    cap: int
    send_at: datetime


def known_for(customer_ids, template, subject_key, now, chunk=900):
    """Known for `customer_ids`: two queries per `chunk` customers, not two per customer."""
    existing, today = set(), {}
    start, end = day_bounds(local_day(now))
    template_id = getattr(template, "id", None)
    same_template = Message.template_id == template_id if template_id is not None \
        else Message.template_id.is_(None)
    for first in range(0, len(customer_ids), chunk):
        ids = customer_ids[first:first + chunk]
        existing.update(db.session.scalars(select(Message.customer_id).where(
            Message.customer_id.in_(ids), same_template,
            Message.subject_key == subject_key[:60])))
        today.update(db.session.execute(
            select(Message.customer_id, func.count(Message.id)).where(
                Message.customer_id.in_(ids), Message.created_at >= start,
                Message.created_at < end, Message.status != "cancelled")
            .group_by(Message.customer_id)).all())
    return Known(frozenset(existing), today, get_setting("messages.daily_cap"),
                 quiet_until(now) or now)


def draft_messages(customers, template, *, channel, subject_key, now, event=None):
    """draft_message() for each of `customers`, the outbox read once for all of them."""
    known = known_for([customer.id for customer in customers], template, subject_key, now)
    about = event_fields(event) if event is not None else None
    return [draft_message(customer, template, channel=channel, subject_key=subject_key,
                          now=now, event=event, known=known, about=about)
            for customer in customers]


@dataclass(frozen=True)
class BulkPreview:
    """What a bulk send would do: a Draft per customer, the cost of those it would queue."""
    drafts: list
    channel: str
    now: datetime

    @property
    def ready(self):
        return [draft for draft in self.drafts if not draft.refused]

    @property
    def refused(self):
        return [draft for draft in self.drafts if draft.refused]

    @property
    def cost_fen(self):
        return sum(cost_of(draft.text, self.channel) for draft in self.ready)

    @property
    def waiting(self):
        """How many wait for the end of the quiet hours."""
        return sum(1 for draft in self.ready if draft.send_after and draft.send_after > self.now)


def preview_bulk(event, template, customers, *, channel, now=None):
    """The bulk send of `template` to `customers` about `event`, previewed (nothing written)."""
    if channel not in CHANNELS:
        raise InvalidInput(_("Choose a channel."), field="channel")
    now = now or utcnow()
    drafts = draft_messages(customers, template, channel=channel,
                            subject_key=event_subject(event), now=now, event=event)
    return BulkPreview(drafts, channel, now)


def queue_bulk(event, template, customers, *, channel, actor, job="", now=None):
    """Queue `template` for `customers` about `event` in the caller's one transaction: the
    rules checked again now for the whole batch, the rows written in one statement. Returns
    (messages queued, drafts refused). A second send of the same template for the event
    queues nothing twice (the outbox's unique key); when a concurrent send wrote some rows
    first, each is tried alone and the taken ones are refused."""
    now = now or utcnow()
    preview = preview_bulk(event, template, customers, channel=channel, now=now)
    subject = event_subject(event)
    rows = [_new_message(draft.customer, text=draft.text, channel=channel, template=template,
                         subject_key=subject, event=event, made_by=actor,
                         job=job if actor is None else "", now=now,
                         send_after=draft.send_after, params=draft.params)
            for draft in preview.ready]
    refused = preview.refused
    try:
        with db.session.begin_nested():
            db.session.add_all(rows)
    except IntegrityError:
        queued = []
        for draft in preview.ready:
            try:
                queued.append(queue_message(draft.customer, text=draft.text, channel=channel,
                                            template=template, subject_key=subject, event=event,
                                            made_by=actor, job=job, now=now,
                                            params=draft.params))
            except InvalidInput as error:
                refused.append(Draft(draft.customer, "", str(error.message)))
        rows = queued
    if actor is not None:  # a person's bulk send (a job's run is logged with the job)
        audit(actor, "message_bulk", event, summary=template.name,
              after={"queued": len(rows), "refused": len(refused)}, now=now)
    return rows, refused


def preview_values(customer):
    """The named fields for a template's preview with `customer`: theirs, the event of their
    latest invitation, and an example for what only a real message knows (an amount, a due
    date, a product) — so the preview's length is the length the message will have."""
    event = db.session.scalar(select(Event).join(Invitation, Invitation.event_id == Event.id)
                              .where(Invitation.customer_id == customer.id)
                              .order_by(Event.starts_at.desc()).limit(1))
    tomorrow = local_day(utcnow()) + timedelta(days=1)
    values = fields_for(customer, event=event, amount_fen=128000, due=tomorrow,
                        product=_("Ganoderma spore powder"))
    for name in FIELDS:
        if not values.get(name):
            values[name] = f"【{name}】"
    return values


@dataclass(frozen=True)
class Preview:
    """A text as one customer would read it, with its length; or why it cannot be."""
    text: str = ""
    length: Length = Length(0, 0)
    cost_fen: int = 0
    error: str = ""
    channel: str = "sms"


def preview_text(body, customer, channel="sms"):
    """The template text `body` filled in for `customer` (preview_values): the text, its
    characters and SMS parts and cost, or the error check_body gives (nothing written)."""
    if not (body or "").strip():
        return Preview()
    try:
        body = check_body(body)
    except InvalidInput as error:
        return Preview(error=str(error.message), length=sms_length((body or "").strip()))
    channel = channel if channel in CHANNELS else "sms"
    text = render_text(body, preview_values(customer)) if customer is not None else body
    return Preview(text=text, length=sms_length(text), cost_fen=cost_of(text, channel),
                   channel=channel)

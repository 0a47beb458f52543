"""The forms of messages: a template (with the customer its preview is shown for), the
outbox's filters, a bulk send from an event's invitation list and its confirmation, one
message to a customer, and the live preview's query."""
from flask_babel import lazy_gettext as _l, lazy_pgettext as _lp
from wtforms import BooleanField, DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from blueprints.forms import BaseForm, IdField, TokenField, choices, id_choice, sane_date
from extensions import db
from models import customers as c, events as ev, messages as m

#: Customers offered for a template's preview.
PREVIEW_CUSTOMERS = 50


def _template_choices(blank=None):
    rows = [(t.id, f"{t.name}（{t.channel_label}）") for t in m.visible_templates(active_only=True)]
    return choices(([(0, blank)] if blank else []) + rows)


def preview_customer_choices(actor):
    """The customers a preview may be shown for: the latest of those `actor` may see."""
    rows = db.session.scalars(c.visible_customers(actor).order_by(c.Customer.id.desc())
                              .limit(PREVIEW_CUSTOMERS))
    return choices([(row.id, f"{row.name}（{row.id}）") for row in rows])


class TemplateForm(BaseForm):
    name = StringField(_lp("thing", "Name"), validators=[Length(max=40)])
    purpose = SelectField(_l("Purpose"), choices=choices(m.PURPOSES.items()))
    channel = SelectField(_l("Channel"), choices=choices(m.CHANNELS.items()))
    body = TextAreaField(_l("Text"), validators=[Length(max=m.MAX_TEXT)])
    provider_code = StringField(_l("Provider's template code"),
                                validators=[Optional(), Length(max=40)],
                                description=_l("Aliyun SMS needs the code of the approved "
                                               "template (SMS_…); leave empty otherwise."))
    is_active = BooleanField(_l("In use"), default=True)
    customer_id = SelectField(_l("Preview for"), coerce=id_choice, validate_choice=False,
                              validators=[Optional()])

    def __init__(self, actor, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer_id.choices = preview_customer_choices(actor)


class PreviewForm(BaseForm):
    """The live preview's query (a GET, nothing written)."""
    class Meta:
        csrf = False

    body = TextAreaField(validators=[Optional(), Length(max=m.MAX_TEXT * 2)])
    text = TextAreaField(validators=[Optional(), Length(max=m.MAX_TEXT * 2)])
    template_id = SelectField(coerce=id_choice, validate_choice=False, validators=[Optional()])
    customer_id = SelectField(coerce=id_choice, validate_choice=False, validators=[Optional()])
    channel = StringField(validators=[Optional(), Length(max=10)])


class OutboxFilterForm(BaseForm):
    class Meta:
        csrf = False

    status = SelectField(_l("Status"), validators=[Optional()],
                         choices=choices([("", _l("Any status")), *m.STATUSES.items()]))
    channel = SelectField(_l("Channel"), validators=[Optional()],
                          choices=choices([("", _l("Any channel")), *m.CHANNELS.items()]))
    event_id = SelectField(_l("Event"), coerce=id_choice, validators=[Optional()])
    marketer_id = SelectField(_l("Marketer"), coerce=id_choice, validators=[Optional()])
    day_from = DateField(_l("From"), validators=[Optional(), sane_date])
    day_to = DateField(_l("To"), validators=[Optional(), sane_date])
    before = IdField(required=False)

    def __init__(self, actor, *args, **kwargs):
        super().__init__(*args, **kwargs)
        events = db.session.scalars(ev.visible_events(actor).order_by(
            ev.Event.starts_at.desc()).limit(30))
        self.event_id.choices = choices([(0, _l("Any event"))] + [
            (e.id, e.title) for e in events])
        # A marketer sees their own customers' messages only: no colleagues to choose from.
        people = c.active_marketers(actor) if actor.has_role("admin", "manager", "dept_head") \
            else [actor]
        self.marketer_id.choices = choices([(0, _l("Any marketer"))] + [
            (u.id, u.display_name) for u in people])

    def filters(self):
        """The valid filters as m.OutboxFilters (a refused one is left out)."""
        def ok(field):
            return field.data if not field.errors else None
        return m.OutboxFilters(status=ok(self.status) or "", channel=ok(self.channel) or "",
                               event_id=ok(self.event_id) or None,
                               marketer_id=ok(self.marketer_id) or None,
                               day_from=ok(self.day_from), day_to=ok(self.day_to),
                               before_id=ok(self.before))


class BulkForm(BaseForm):
    """What to send to whom from an invitation list (a GET: the preview writes nothing)."""
    class Meta:
        csrf = False

    template_id = SelectField(_l("Template"), coerce=id_choice, validate_choice=False,
                              validators=[Optional()])
    channel = SelectField(_l("Channel"), validators=[Optional()],
                          choices=choices([("", _l("The template's channel")),
                                           *m.CHANNELS.items()]))
    who = RadioField(_l("Send to"), default="confirmed", validators=[Optional()],
                     choices=choices(m.BULK_WHO.items()))
    #: The invitation list's filter, carried from the list.
    status = StringField(validators=[Optional(), Length(max=20)])
    inviter = IdField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.template_id.choices = _template_choices(_l("(choose a template)"))


class BulkConfirmForm(BulkForm):
    """The confirmation of a previewed bulk send: the same choices, and a one-time token."""
    class Meta:
        csrf = True

    token = TokenField()


class CustomerMessageForm(BaseForm):
    template_id = SelectField(_l("Template"), coerce=id_choice, validate_choice=False,
                              validators=[Optional()])
    text = TextAreaField(_l("Text"), validators=[Optional(), Length(max=m.MAX_TEXT)],
                         description=_l("Free text, or a template's text to change; the named "
                                        "fields ({称呼}…) are filled in."))
    channel = RadioField(_l("Channel"), default="sms", choices=choices(m.CHANNELS.items()),
                         validators=[Optional()])
    next = StringField(validators=[Optional(), Length(max=2000)])
    token = TokenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.template_id.choices = _template_choices(_l("(free text)"))


class CancelForm(BaseForm):
    #: Where to go back to (the outbox as filtered).
    next = StringField(validators=[Optional(), Length(max=2000)])

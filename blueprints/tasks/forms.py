"""The forms of the worklist: a task done (how, the outcome, a note, the purchase intent heard,
why ahead of its day), the customer set to 勿扰 after a refusal, skipped (a
reason), tasks handed to another marketer, and a WeChat message marked sent. Where to go next
(`next`) is read by the routes through access.safe_next."""
from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import Length

from blueprints.forms import BaseForm, IdField, IdListField

CONTACT_KINDS = ("call", "visit", "sms", "wechat")


class DoneForm(BaseForm):
    #: One of CONTACT_KINDS (blank: a call); the route refuses anything else with a message.
    kind = StringField(_l("How"), validators=[Length(max=10)])
    #: A ready-made note is the button tapped; else what was typed (note_text).
    note = StringField(_l("Note"), validators=[Length(max=500)])
    note_text = StringField(_l("Note"), validators=[Length(max=500)])
    #: One of tasks.OUTCOMES, the outcome button tapped (blank: reached); the operation refuses
    #: anything else with a message.
    outcome = StringField(_l("Outcome"), validators=[Length(max=20)])
    #: Why a task due on a later day is done today (required then).
    early_reason = StringField(_l("Why ahead of its day"), validators=[Length(max=200)])
    #: One of customers.INTENTS, or blank (not asked).
    intent = StringField(_l("Purchase intent"), validators=[Length(max=20)])


class DoNotCallForm(BaseForm):
    pass


class SkipForm(BaseForm):
    reason = StringField(_l("Reason"), validators=[Length(max=200)])


class ReassignForm(BaseForm):
    to_user = IdField(_l("Hand to"), required=False)
    task_ids = IdListField(_l("Tasks"))


class WechatSentForm(BaseForm):
    """已发送 under a WeChat message: nothing but the CSRF token (marking it sent twice is
    harmless: the operation is idempotent)."""

"""The forms of the worklist: a task done (how the customer was reached, a note), skipped (a
reason), and tasks handed to another marketer. Where to go next (`next`) is read by the routes
through access.safe_next."""
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


class SkipForm(BaseForm):
    reason = StringField(_l("Reason"), validators=[Length(max=200)])


class ReassignForm(BaseForm):
    to_user = IdField(_l("Hand to"), required=False)
    task_ids = IdListField(_l("Tasks"))

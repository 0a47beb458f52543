from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from blueprints.forms import BaseForm, IdField, IntegerField, TokenField, choices
from models import customers as c


def _table_choices(event):
    return choices([(0, _l("As planned"))] + [(t.id, f"{t.name}（{t.seats}）")
                                               for t in event.tables])


class CheckInForm(BaseForm):
    invitation_id = HiddenField(validators=[DataRequired()])
    token = TokenField()
    companions = IntegerField(_l("Companions"), validators=[Optional(), NumberRange(0, 10)])
    table_id = SelectField(_l("Table"), coerce=int, validators=[Optional()])
    override = BooleanField(_l("Seat even if the table is full"))

    def __init__(self, event, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.table_id.choices = _table_choices(event)


class ScanForm(BaseForm):
    code = StringField(_l("Scan the card, or type a phone tail, name or initials"),
                       validators=[DataRequired(_l("Scan a card or type something.")),
                                   Length(max=60)])
    token = TokenField()


class WalkInForm(BaseForm):
    phone = StringField(_l("Mobile"), validators=[DataRequired(_l("Enter the mobile number.")),
                                                  Length(max=20)])
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the customer's name.")),
                                               Length(max=40)])
    referrer_phone = StringField(_l("Referred by (their mobile)"),
                                 validators=[Optional(), Length(max=20)])
    owner_id = SelectField(_l("Belongs to marketer"), coerce=int, validators=[Optional()])
    companions = IntegerField(_l("Companions"), default=0, validators=[Optional(),
                                                                      NumberRange(0, 10)])
    table_id = SelectField(_l("Table"), coerce=int, validators=[Optional()])
    token = TokenField()

    def __init__(self, event, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.table_id.choices = _table_choices(event)
        self.owner_id.choices = choices([(0, _l("The referrer's marketer"))] + [
            (u.id, u.display_name) for u in c.active_marketers()])


class KnownWalkInForm(BaseForm):
    """One tap: a customer already known by the mobile typed comes in as a walk-in. The mobile
    comes back with the id, so that an id alone checks nobody in."""
    customer_id = IdField()
    phone = HiddenField(validators=[DataRequired(), Length(max=20)])
    companions = IntegerField(_l("Companions"), default=0, validators=[Optional(),
                                                                      NumberRange(0, 10)])
    token = TokenField()


class DoorWriteForm(BaseForm):
    """One queued write of the door tablet (a check-in or the attendance gift), sent by its
    script; the same form whether it is sent at once or replayed after the network came back."""

    class Meta(BaseForm.Meta):
        # Its CSRF token is checked once, by CSRFProtect before the view (extensions.csrf, no
        # view exempt): a second check by the form cost the tablets' busiest path 0.4 ms.
        csrf = False

    kind = SelectField(choices=choices([("check_in", _l("Check-in")),
                                        ("gift", _l("Attendance gift"))]),
                       validators=[DataRequired()])
    token = TokenField()
    invitation_id = IntegerField(validators=[Optional(), NumberRange(1, 2**31 - 1)])
    #: A scanned card's code the tablet did not find in its list.
    code = StringField(validators=[Optional(), Length(max=60)])
    companions = IntegerField(_l("Companions"), validators=[Optional(), NumberRange(0, 10)])
    table_id = IntegerField(validators=[Optional(), NumberRange(0, 2**31 - 1)])
    override = BooleanField()
    queued = BooleanField()
    #: When the tablet made the write, by its own clock (milliseconds since 1970).
    queued_ms = IntegerField(validators=[Optional(), NumberRange(0, 10**14)])
    device = StringField(validators=[Optional(), Length(max=40)])

from datetime import datetime, time

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, SelectField, StringField, TimeField
from wtforms.validators import (AnyOf, DataRequired, InputRequired, Length, NumberRange,
                                Optional)

from blueprints.admin.forms import MultiCheckboxField, department_choices
from blueprints.forms import BaseForm, IdField, IntegerField, MoneyField, choices, to_fen
from formatting import company_zone
from models import events as ev


class EventForm(BaseForm):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Enter the event's title.")),
                                                 Length(max=100)])
    kind = SelectField(_l("Kind"), choices=choices(ev.KINDS.items()))
    venue = StringField(_l("Venue"), validators=[DataRequired(_l("Enter the venue.")),
                                                 Length(max=100)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    day = DateField(_l("Date"), validators=[InputRequired(_l("Enter the date."))])
    start = TimeField(_l("Starts"), validators=[InputRequired(_l("Enter the start time."))])
    end = TimeField(_l("Ends"), validators=[InputRequired(_l("Enter the end time."))])
    capacity = IntegerField(_l("Capacity (people)"), validators=[
        InputRequired(_l("Enter the capacity.")), NumberRange(1, 100000)])
    department_id = SelectField(_l("Organising department"), coerce=int,
                                validators=[Optional()])
    lecturer = StringField(_l("Lecturer / expert"), validators=[Optional(), Length(max=60)])
    featured = StringField(_l("Featured products"), validators=[Optional(), Length(max=300)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.department_id.choices = department_choices(_l("(none)"))

    def fill_from(self, event):
        zone = company_zone()
        start, end = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
        self.day.data, self.start.data, self.end.data = start.date(), start.time(), end.time()
        self.department_id.data = event.department_id or 0

    def times(self):
        """(starts_at, ends_at) as aware datetimes in the company's zone."""
        zone = company_zone()
        day = self.day.data
        return (datetime.combine(day, self.start.data or time(), tzinfo=zone),
                datetime.combine(day, self.end.data or time(), tzinfo=zone))


class CostForm(BaseForm):
    kind = SelectField(_l("Cost"), choices=choices(ev.COST_KINDS.items()))
    amount = MoneyField(_l("Amount (yuan)"), required=True, minimum="0.01",
                        maximum=100_000_000, message=_l("Enter an amount above zero."))
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])

    def amount_fen(self):
        return to_fen(self.amount.data)


class TableForm(BaseForm):
    number = IntegerField(_l("Table number"), validators=[InputRequired(_l("Enter the number.")),
                                                          NumberRange(1, 999)])
    seats = IntegerField(_l("Seats"), validators=[InputRequired(_l("Enter the seats.")),
                                                  NumberRange(1, 100)])
    label = StringField(_l("Label"), validators=[Optional(), Length(max=40)])
    host_id = SelectField(_l("Host marketer"), coerce=int, validators=[Optional()])

    def __init__(self, marketers, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.host_id.choices = choices([(0, _l("(none)"))] + [(u.id, u.display_name)
                                                               for u in marketers])


class PickupPointForm(BaseForm):
    name = StringField(_l("Pickup point"), validators=[
        DataRequired(_l("Enter where the bus picks guests up.")), Length(max=60)])
    pickup_time = TimeField(_l("Pickup time"), validators=[
        InputRequired(_l("Enter the pickup time."))])


class PickupForm(BaseForm):
    """Whether a guest comes on the bus, and where they get on (any id here: the operation
    refuses a point of another event)."""
    needs_pickup = BooleanField(_l("Needs pickup"))
    pickup_point_id = IdField(_l("Pickup point"), required=False)


class StaffForm(BaseForm):
    staff = MultiCheckboxField(_l("Event staff at the door"), coerce=int, validators=[Optional()])

    def __init__(self, people, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.staff.choices = choices([(u.id, u.display_name) for u in people])


class InviteForm(BaseForm):
    event_id = SelectField(_l("Event"), coerce=int, validators=[
        DataRequired(_l("Choose an event."))])
    companions = IntegerField(_l("Companions expected"), default=0, validators=[
        Optional(), NumberRange(0, ev.MAX_COMPANIONS)])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.event_id.choices = choices([(0, _l("Choose an open event"))] + [
            (e.id, f"{e.title}（{e.starts_at.astimezone(company_zone()):%m-%d %H:%M}）")
            for e in ev.open_events()])


class EventStatusForm(BaseForm):
    """The buttons that move an event along: the status it goes to (hidden, one per button)."""
    to = SelectField(_l("Status"), choices=choices(ev.STATUSES.items()), validate_choice=False,
                     validators=[AnyOf(list(ev.STATUSES), message=_l("Choose from the list."))])


class InvitationStatusForm(BaseForm):
    status = SelectField(_l("Status"), choices=choices(
        [(k, v) for k, v in ev.INVITATION_STATUSES.items() if k in ev.INVITATION_TRANSITIONS]))
    companions = IntegerField(_l("Companions"), validators=[Optional(),
                                                            NumberRange(0, ev.MAX_COMPANIONS)])
    override_reason = StringField(_l("Reason to exceed capacity"),
                                  validators=[Optional(), Length(max=200)])


class MoveGuestForm(BaseForm):
    """Move a guest (with their party) to a table on the seating page: the guest tapped first,
    then the table (any id here: the operation refuses a table of another event)."""
    invitation_id = IdField(message=_l("Tap a guest first."))
    table_id = IdField(message=_l("Tap the table to move the guest to."))
    override_reason = StringField(_l("Reason to seat beyond the table's seats"),
                                  validators=[Optional(), Length(max=200)])

from flask import g
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (BooleanField, DateField, HiddenField, MonthField, RadioField,
                     SelectField, StringField, TextAreaField)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from blueprints.admin.forms import MultiCheckboxField
from blueprints.forms import (BaseForm, IntegerField, MoneyField, QuickSelect, TokenField, choices,
                             id_choice, ids_from, to_fen)
from extensions import db
from models import customers as c
from models.accounts import all_departments
from models.base import utcnow
from models.clock import local_day
from sqlalchemy import select


def _channel_choices(blank):
    rows = db.session.scalars(select(c.Channel).where(c.Channel.is_active)
                              .order_by(c.Channel.sort, c.Channel.name))
    return choices([(0, blank)] + [(row.id, row.name) for row in rows])


def _tag_choices():
    rows = db.session.scalars(select(c.Tag).where(c.Tag.is_active).order_by(c.Tag.name))
    return choices([(row.id, row.name) for row in rows])


def _marketer_choices(actor, blank):
    """The marketers `actor` may choose, named with their department (read once a request:
    the list page has two such lists)."""
    if getattr(g, "marketer_names_of", None) != actor.id:
        g.marketer_names_of, g.marketer_names = actor.id, [
            (uid, name + (f"（{department}）" if department else ""))
            for uid, name, department in c.active_marketer_names(actor)]
    return choices([(0, blank)] + g.marketer_names)


class CustomerForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the customer's name.")),
                                               Length(max=40)])
    phone = StringField(_l("Mobile"), validators=[DataRequired(_l("Enter the mobile number.")),
                                                  Length(max=20)])
    gender = RadioField(_l("Gender"), default="", validators=[Optional()],
                        choices=choices(c.GENDERS.items()))
    phone2 = StringField(_l("Second phone"), validators=[Optional(), Length(max=20)])
    district = StringField(_l("District"), validators=[Optional(), Length(max=40)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    channel_id = SelectField(_l("Source channel"), coerce=int, validators=[Optional()])
    referrer_id = IntegerField(_l("Referred by (customer number)"), validators=[
        Optional(), NumberRange(min=1, max=2**31 - 1)])
    grade = SelectField(_l("Grade"), validators=[Optional()],
                        choices=choices([("", _l("Not graded")), *[(g, g) for g in c.GRADES]]))
    tag_ids = MultiCheckboxField(_l("Tags"), coerce=int, validators=[Optional()])
    birthday_kind = RadioField(_l("Birthday"), default="", validators=[Optional()],
                               choices=choices([("", _l("Unknown")), ("solar", _l("Solar")),
                                                ("lunar", _l("Lunar"))]))
    birthday = DateField(_l("Solar birthday"), validators=[Optional()])
    lunar_month = IntegerField(_l("Lunar month"), validators=[Optional(), NumberRange(1, 12)])
    lunar_day = IntegerField(_l("Lunar day"), validators=[Optional(), NumberRange(1, 30)])
    lunar_leap = BooleanField(_l("Leap month"))
    birth_year = IntegerField(_l("Year of birth"), validators=[Optional(),
                                                               NumberRange(1900, 2100)])
    birth_year_estimated = BooleanField(_l("Estimated from the age"))
    anniversary = DateField(_l("Anniversary"), validators=[Optional()])
    health_notes = TextAreaField(_l("Health notes"), validators=[Optional(), Length(max=2000)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000)])
    family_name = StringField(_l("Family contact"), validators=[Optional(), Length(max=40)])
    family_relation = StringField(_l("Relation"), validators=[Optional(), Length(max=20)])
    family_phone = StringField(_l("Family contact's mobile"),
                               validators=[Optional(), Length(max=20)])
    do_not_call = BooleanField(_l("Do not call"))
    do_not_sms = BooleanField(_l("Do not SMS"))
    address_form = StringField(_l("Form of address in messages"),
                               validators=[Optional(), Length(max=10)],
                               description=_l("After the surname: 阿姨 makes 张阿姨. Empty: from "
                                              "gender and age."))
    owner_id = SelectField(_l("Owner (marketer)"), coerce=int, validators=[Optional()],
                           widget=QuickSelect())

    def __init__(self, actor, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel_id.choices = _channel_choices(_l("(none)"))
        self.tag_ids.choices = _tag_choices()
        self.owner_id.choices = _marketer_choices(actor, _l("Myself"))

    def to_data(self):
        """The form's values as CustomerData for the operations."""
        return c.CustomerData(
            name=self.name.data, phone=self.phone.data, gender=self.gender.data or "",
            phone2=self.phone2.data, address=self.address.data, district=self.district.data,
            channel_id=self.channel_id.data or None, referrer_id=self.referrer_id.data,
            grade=self.grade.data or "", health_notes=self.health_notes.data,
            notes=self.notes.data or "",
            family_name=self.family_name.data or "",
            family_relation=self.family_relation.data or "",
            family_phone=self.family_phone.data or "",
            birthday_kind=self.birthday_kind.data or "", birthday=self.birthday.data,
            lunar_month=self.lunar_month.data, lunar_day=self.lunar_day.data,
            lunar_leap=self.lunar_leap.data, birth_year=self.birth_year.data,
            birth_year_estimated=self.birth_year_estimated.data,
            anniversary=self.anniversary.data, do_not_call=self.do_not_call.data,
            do_not_sms=self.do_not_sms.data, tag_ids=tuple(self.tag_ids.data or ()),
            address_form=self.address_form.data or "")


class FilterForm(BaseForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=40)])
    owner_id = SelectField(_l("Owner"), coerce=id_choice, validators=[Optional()],
                           widget=QuickSelect())
    department_id = SelectField(_l("Department"), coerce=id_choice, validators=[Optional()])
    grade = SelectField(_l("Grade"), validators=[Optional()])
    tag_id = SelectField(_l("Tag"), coerce=id_choice, validators=[Optional()])
    channel_id = SelectField(_l("Source channel"), coerce=id_choice, validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()])
    birth_month = SelectField(_l("Birthday month"), coerce=int, validators=[Optional()])
    idle_days = IntegerField(_l("No contact for (days)"), validators=[
        Optional(), NumberRange(1, 3650)])
    min_recency = SelectField(_l("Recency (R)"), coerce=int, validators=[Optional()])
    min_frequency = SelectField(_l("Frequency (F)"), coerce=int, validators=[Optional()])
    min_monetary = SelectField(_l("Monetary (M)"), coerce=int, validators=[Optional()])
    sort = SelectField(_l("Sort by"), validators=[Optional()], default="recent")

    def __init__(self, actor, *args, rows_only=False, **kwargs):
        """`rows_only`: only the list's rows are shown (a search typed into the box, htmx):
        the marketers and the departments are read only to check one that was asked for."""
        super().__init__(*args, **kwargs)

        def asked(field):
            return not rows_only or field.raw_data not in (None, [], [""])
        self.owner_id.choices = _marketer_choices(actor, _l("Any owner")) \
            if asked(self.owner_id) else choices([(0, _l("Any owner"))])
        departments = all_departments() if asked(self.department_id) else []
        self.department_id.choices = choices([(0, _l("All departments"))] + [
            (d.id, "\u3000" * d.depth + d.name) for d in departments])
        self.grade.choices = choices([("", _l("Any grade")), *[(g, g) for g in c.GRADES]])
        self.tag_id.choices = choices([(0, _l("Any tag")), *[(x.value, x.label)
                                                             for x in _tag_choices()]])
        self.channel_id.choices = _channel_choices(_l("Any channel"))
        self.status.choices = choices([("", _l("Any status")), *c.STATUSES.items()])
        self.birth_month.choices = choices([(0, _l("Any month"))] + [
            (m, _l("Month %(n)s", n=m)) for m in range(1, 13)])
        for field in (self.min_recency, self.min_frequency, self.min_monetary):
            field.choices = choices([(0, _l("Any score"))] + [
                (n, _l("%(n)s or more", n=n)) for n in reversed(c.RFM_SCORES)])
        self.sort.choices = choices([("recent", _l("Newest first")), ("name", _l("Name")),
                                     ("last_contact", _l("Longest without contact")),
                                     ("grade", _l("Grade"))])

    def to_filter(self):
        def ok(field):
            return field.data if not field.errors else None
        return c.CustomerFilter(
            q=ok(self.q) or "", owner_id=ok(self.owner_id) or None,
            department_id=ok(self.department_id) or None, grade=ok(self.grade) or "",
            tag_id=ok(self.tag_id) or None, channel_id=ok(self.channel_id) or None,
            status=ok(self.status) or "", birth_month=ok(self.birth_month) or None,
            idle_days=ok(self.idle_days) or None, min_recency=ok(self.min_recency) or None,
            min_frequency=ok(self.min_frequency) or None,
            min_monetary=ok(self.min_monetary) or None, sort=ok(self.sort) or "recent")


class ContactForm(BaseForm):
    kind = RadioField(_l("How"), default="call", choices=choices(c.CONTACT_KINDS.items()),
                      validators=[DataRequired(_l("Choose how you contacted the customer."))])
    content = TextAreaField(_l("What was said or done"), validators=[
        DataRequired(_l("Write what was said or done.")), Length(max=2000)])
    outcome = StringField(_l("Outcome"), validators=[Optional(), Length(max=200)])
    next_follow_up = DateField(_l("Next follow-up"), validators=[Optional()])


class IntentForm(BaseForm):
    #: One of customers.INTENTS: the operation refuses anything else with a message.
    intent = StringField(_l("Purchase intent"), validators=[Length(max=20)])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])


class ExperienceForm(BaseForm):
    product = StringField(_l("Product tried"), validators=[Length(max=60)])
    how = TextAreaField(_l("How it went"), validators=[Optional(), Length(max=2000)])
    day = DateField(_l("Day of the visit"), validators=[Optional()])


class BulkForm(BaseForm):
    """A bulk action on the customers ticked in the list (checkboxes named "ids" that belong to
    this form through their form= attribute; the pressed button gives the action)."""
    action = HiddenField()
    to_owner_id = SelectField(_l("To marketer"), coerce=int, validators=[Optional()],
                              widget=QuickSelect())
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])

    def __init__(self, actor, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.to_owner_id.choices = _marketer_choices(actor, _l("Choose a marketer"))

    def customer_ids(self):
        from flask import request
        return ids_from(request.form.getlist("ids"))


class HandoverForm(BaseForm):
    from_owner_id = SelectField(_l("Leaving marketer"), coerce=int, widget=QuickSelect(),
                                validators=[DataRequired(_l(
                                    "Choose the marketer whose customers are handed over."))])
    to_owner_id = SelectField(_l("Receiving marketer"), coerce=int, widget=QuickSelect(),
                              validators=[DataRequired(_l(
                                  "Choose the marketer who takes them over."))])
    reason = StringField(_l("Reason"), default=_l("Handover (left the company)"),
                         validators=[DataRequired(_l("Say why.")), Length(max=200)])

    def __init__(self, actor, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from models.accounts import User
        from models.scoping import visible_users
        owners = db.session.scalars(visible_users(actor).where(
            User.role_rows.any(role="marketer")).order_by(User.is_active.desc(),
                                                          User.display_name)).all()
        self.from_owner_id.choices = choices([(0, _l("Choose"))] + [
            (u.id, u.display_name if u.is_active else _l("%(name)s (deactivated)",
                                                          name=u.display_name))
            for u in owners])
        self.to_owner_id.choices = _marketer_choices(actor, _l("Choose"))


class ImportUploadForm(BaseForm):
    file = FileField(_l("Spreadsheet (.xlsx)"), validators=[
        FileRequired(_l("Choose an .xlsx file.")),
        FileAllowed(["xlsx"], _l("Only .xlsx spreadsheets can be imported."))])


class ListsForm(BaseForm):
    kind = HiddenField()
    name = StringField(_l("Item name"), validators=[DataRequired(_l("Enter a name.")),
                                               Length(max=30)])


def _this_month():
    return local_day(utcnow()).replace(day=1)


class ChannelCostForm(BaseForm):
    """What was spent on a source channel in a month (渠道营销费用)."""
    channel_id = SelectField(_l("Source channel"), coerce=id_choice, validators=[
        DataRequired(_l("Choose the source channel."))])
    month = MonthField(_l("Month"), default=_this_month,
                       validators=[DataRequired(_l("Choose the month."))])
    amount = MoneyField(_l("Amount (yuan)"), required=True, minimum="0.01",
                        maximum=10_000_000,
                        message=_l("Enter an amount above zero, at most ¥10,000,000."))
    note = StringField(_l("What it paid for"), validators=[Optional(), Length(max=200)])
    token = TokenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel_id.choices = _channel_choices(_l("Choose…"))

    def amount_fen(self):
        return to_fen(self.amount.data)


class ReverseChannelCostForm(BaseForm):
    reason = StringField(_l("Why"), validators=[DataRequired(_l("Say why the entry is "
                                                                "reversed.")),
                                                Length(max=200)])

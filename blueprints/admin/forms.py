from flask_babel import lazy_gettext as _l
from wtforms import (BooleanField, DateField, PasswordField, SelectField,
                     SelectMultipleField, StringField, widgets)
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional

from blueprints.forms import BaseForm, IntegerField, choices, id_choice, sane_date
from models.accounts import ROLES, all_departments


class MultiCheckboxField(SelectMultipleField):
    """Checkboxes for a multiple choice; an unknown value gets our own (translated) message."""
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("invalid_choice_message",
                          _l("%(value)s is not a valid choice."))
        super().__init__(*args, **kwargs)


def department_choices(blank):
    return choices([(0, blank)] + [(d.id, "\u3000" * d.depth + d.name)
                                   for d in all_departments()])


class UserForm(BaseForm):
    display_name = StringField(_l("Name"), validators=[
        DataRequired(_l("Enter the name shown to others.")), Length(max=40)])
    phone = StringField(_l("Mobile"), validators=[Optional(), Length(max=20)])
    department_id = SelectField(_l("Department"), coerce=int)
    roles = MultiCheckboxField(_l("Roles"), validators=[
        DataRequired(_l("Choose at least one role."))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.department_id.choices = department_choices(_l("(none)"))
        self.roles.choices = choices(ROLES.items())


class NewUserForm(UserForm):
    username = StringField(_l("Sign-in name"), validators=[
        DataRequired(_l("Enter a sign-in name.")), Length(max=40)])
    password = PasswordField(_l("Initial password"), validators=[
        DataRequired(_l("Enter an initial password.")), Length(max=128)])
    confirm = PasswordField(_l("Password again"), validators=[
        DataRequired(_l("Enter the password again.")),
        EqualTo("password", _l("The two passwords differ."))])


class ResetPasswordForm(BaseForm):
    new_password = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Enter a new password.")), Length(max=128)])


class ConfirmForm(BaseForm):
    """A bare form (CSRF only) for one-button actions: deactivate, reactivate, unlock."""


class UserFilterForm(BaseForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=40)])
    department_id = SelectField(_l("Department"), coerce=id_choice, validators=[Optional()])
    role = SelectField(_l("Role"), validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()], choices=choices([
        ("active", _l("Active")), ("inactive", _l("Deactivated")), ("all", _l("All"))]),
        default="active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.department_id.choices = department_choices(_l("All departments"))
        self.role.choices = choices([("", _l("All roles")), *ROLES.items()])


class DepartmentForm(BaseForm):
    name = StringField(_l("Department name"), validators=[
        DataRequired(_l("Enter the department name.")), Length(max=60)])
    parent_id = SelectField(_l("Parent department"), coerce=int)
    is_active = BooleanField(_l("In use"), default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parent_id.choices = department_choices(_l("(top level)"))


class AuditFilterForm(BaseForm):
    class Meta:
        csrf = False

    actor_id = SelectField(_l("Who"), coerce=id_choice, validators=[Optional()])
    action = SelectField(_l("Action"), validators=[Optional()])
    target_type = StringField(_l("Record type"), validators=[Optional(), Length(max=64)])
    target_id = IntegerField(_l("Record id"), validators=[Optional(),
                                                          NumberRange(1, 2**31 - 1)])
    start = DateField(_l("From"), validators=[Optional(), sane_date])
    end = DateField(_l("To"), validators=[Optional(), sane_date])
    text = StringField(_l("Contains"), validators=[Optional(), Length(max=60)])


def settings_form(definitions, data):
    """A form with one field per declared setting (named area__name), filled from `data`."""
    class SettingsForm(BaseForm):
        pass

    for key, definition in definitions.items():
        if definition.type == "int":
            field = IntegerField(definition.label, description=definition.help,
                        validators=[InputRequired(_l("Enter a whole number."))])
        elif definition.type == "bool":
            field = BooleanField(definition.label, description=definition.help)
        elif definition.type == "roles":
            field = MultiCheckboxField(definition.label, description=definition.help,
                                       choices=choices(ROLES.items()))
        elif definition.choices:
            field = SelectField(definition.label, description=definition.help,
                                choices=choices(definition.choices))
        else:
            field = StringField(definition.label, description=definition.help,
                                validators=[Length(max=definition.max_length)])
        setattr(SettingsForm, field_name(key), field)
    return SettingsForm(data={field_name(key): value for key, value in data.items()})


def field_name(key):
    """The form field name of a setting key ("general.timezone" → "general__timezone")."""
    return key.replace(".", "__")

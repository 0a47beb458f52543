from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from blueprints.forms import BaseForm, choices


class SignInForm(BaseForm):
    username = StringField(_l("Sign-in name"), validators=[
        DataRequired(_l("Enter your sign-in name.")), Length(max=40)])
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Enter your password.")), Length(max=128)])
    next = HiddenField()


class ChangePasswordForm(BaseForm):
    current_password = PasswordField(_l("Current password"), validators=[
        DataRequired(_l("Enter your current password.")), Length(max=128)])
    new_password = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Enter a new password.")), Length(max=128)])
    confirm = PasswordField(_l("New password again"), validators=[
        DataRequired(_l("Enter the new password again.")),
        EqualTo("new_password", _l("The two new passwords differ."))])


class PreferencesForm(BaseForm):
    locale = SelectField(_l("Language"), choices=[])

    def __init__(self, languages, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.locale.choices = choices([("", _l("Company default")), *languages.items()])

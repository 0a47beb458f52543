"""Shared form pieces: whitespace stripping, the one-time token field, operation errors."""
from werkzeug.datastructures import MultiDict
from wtforms import IntegerField, StringField

from blueprints.forms import BaseForm, TokenField
from models.base import InvalidInput, is_token


class PaymentForm(BaseForm):
    class Meta:
        csrf = False

    token = TokenField()
    reference = StringField()


def test_token_field_renders_a_fresh_token_each_time(app):
    with app.test_request_context():
        first, second = PaymentForm(), PaymentForm()
        assert is_token(first.token.data) and first.token.data != second.token.data
        assert f'value="{first.token.data}"' in first.token()


def test_a_submitted_token_is_kept_and_a_bad_one_refused(app):
    with app.test_request_context():
        good = PaymentForm(MultiDict({"token": "0b5a1f7e-3c1d-4a51-9c7e-8b2f1d9e0a11",
                                      "reference": "  微信 4200001234  "}))
        assert good.validate()
        assert good.token.data == "0b5a1f7e-3c1d-4a51-9c7e-8b2f1d9e0a11"
        assert good.reference.data == "微信 4200001234"   # stripped
        for bad in ("", "not-a-token", "<script>", "1" * 36):
            form = PaymentForm(MultiDict({"token": bad}))
            assert not form.validate()
            assert form.token.errors


def test_operation_errors_land_next_to_their_field_or_on_top(app):
    with app.test_request_context():
        form = PaymentForm(MultiDict({}))
        form.add_error(InvalidInput("流水号重复", field="reference"))
        form.add_error(InvalidInput("订单已关闭"))
        assert form.reference.errors == ["流水号重复"]
        assert form.form_errors == ["订单已关闭"]


class CountForm(BaseForm):
    class Meta:
        csrf = False

    quantity = IntegerField()


def test_wtforms_own_messages_speak_the_users_language(app):
    from flask_babel import force_locale
    with app.test_request_context():
        form = CountForm(MultiDict({"quantity": "三"}))
        assert not form.validate()
        assert form.quantity.errors == ["不是有效的整数。"]
        with force_locale("en"):
            form = CountForm(MultiDict({"quantity": "three"}))
            assert not form.validate()
            assert form.quantity.errors == ["Not a valid integer value."]

"""Shared form pieces: whitespace stripping, the one-time token field, operation errors."""
from werkzeug.datastructures import MultiDict
from wtforms import IntegerField, StringField

from blueprints.forms import (BaseForm, IdField, IdListField, QuantitiesField, TickedField,
                              TokenField)
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


def test_a_posted_token_is_taken_as_it_is_and_a_missing_one_made(app, monkeypatch):
    """A form posted with its token makes no fresh one (the door's every write); posted
    without one (a script), it gets a fresh token as a form shown does."""
    import uuid
    made, real = [], uuid.uuid4
    monkeypatch.setattr(uuid, "uuid4", lambda: made.append(1) or real())
    with app.test_request_context():
        posted = PaymentForm(MultiDict({"token": "0b5a1f7e-3c1d-4a51-9c7e-8b2f1d9e0a11"}))
        assert posted.validate() and made == []
        bare = PaymentForm(MultiDict({"reference": "现金"}))
        assert bare.validate() and is_token(bare.token.data) and made == [1]


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


def form_classes():
    """Every form class of the app's blueprints."""
    import importlib
    import importlib.util
    import pkgutil

    import blueprints
    from wtforms import Form
    from wtforms.form import BaseForm as WTFormsBase
    for module in pkgutil.iter_modules(blueprints.__path__):
        if module.ispkg and importlib.util.find_spec(f"blueprints.{module.name}.forms"):
            importlib.import_module(f"blueprints.{module.name}.forms")

    def walk(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)
    return {cls for base in (Form, WTFormsBase) for cls in walk(base)
            if cls.__module__.startswith("blueprints.")}


def test_every_range_and_length_message_formats_in_chinese(app):
    """WTForms fills NumberRange and Length messages with `%`: a translation with a bare % (as
    “1000%”) turned a refused number into a 500."""
    from flask_babel import force_locale
    from wtforms.fields.core import UnboundField
    from wtforms.meta import DefaultMeta
    from wtforms.validators import Length, NumberRange

    from blueprints.forms import MoneyField
    checked = 0
    with app.test_request_context(), force_locale("zh_CN"):
        for cls in form_classes():
            for name in dir(cls):
                field = getattr(cls, name, None)
                if not isinstance(field, UnboundField):
                    continue
                if issubclass(field.field_class, MoneyField):  # its range is in its message
                    assert str(field.bind(None, name, _meta=DefaultMeta()).message)
                    checked += 1
                for validator in field.kwargs.get("validators") or ():
                    if isinstance(validator, (NumberRange, Length)) and validator.message:
                        str(validator.message) % {"min": 1, "max": 2, "length": 3}
                        checked += 1
    assert checked > 20


class _Picked(BaseForm):
    class Meta:
        csrf = False

    warehouse_id = IdField()
    event_id = IdField(required=False)
    task_ids = IdListField(limit=3)
    lines = QuantitiesField(prefix="line-")
    redeemed = QuantitiesField(prefix="redeemed-", parts=2)
    sets = QuantitiesField(prefix="set-", maximum=99, message="套餐份数 0 到 99")
    sets_held = TickedField(prefix="set-", suffix="-held")


def _picked(app, **data):
    with app.test_request_context(method="POST", data=MultiDict(data)):
        form = _Picked()
        return form, form.validate()


def test_ids_are_what_a_row_can_have_and_nothing_else(app):
    """IdField / IdListField read 1 … 2**31−1: a 12-digit id (which PostgreSQL cannot hold),
    0, a sign, a word or a full-width digit is the field's message, never a query."""
    form, ok = _picked(app, warehouse_id="7", event_id="", task_ids=["3", "5", "3"])
    assert ok and (form.warehouse_id.data, form.event_id.data, form.task_ids.data) == \
        (7, None, [3, 5])
    assert _picked(app, warehouse_id="7", event_id="0")[1]  # 0: "none chosen"
    for bad in ("", "0", "-1", "+1", "１", "abc", "1e3", str(2**31), "999999999999"):
        form, ok = _picked(app, warehouse_id=bad)
        assert not ok and form.warehouse_id.errors and form.warehouse_id.data is None, bad
    for bad in (["1", "999999999999"], ["x"], ["1", "2", "3", "4"]):
        form, ok = _picked(app, warehouse_id="1", task_ids=bad)
        assert not ok and form.task_ids.errors, bad


def test_quantities_are_read_per_line_with_one_message(app):
    form, ok = _picked(app, warehouse_id="1", **{
        "line-4": "2", "line-5": " ", "redeemed-3-9": "1", "line-x": "7", "line-99999999999": "1",
        "other": "5"})
    assert ok and form.lines.data == {4: 2} and form.redeemed.data == {(3, 9): 1}
    assert form.lines.entered == {"line-4": "2", "line-5": ""}
    for bad in ("-1", "1.5", "٣", "9" * 20, "1e3"):
        form, ok = _picked(app, warehouse_id="1", **{"line-4": bad})
        assert not ok and form.lines.errors and form.lines.data == {}, bad


def test_counts_and_ticks_of_the_same_lines_are_read_apart(app):
    """set-<id> is a count (its own message, at most `maximum`), set-<id>-held a tick: a tick
    is not a count, and a tick of an id no row can have is not one of the page's lines."""
    form, ok = _picked(app, warehouse_id="1", **{
        "set-4": "2", "set-4-held": "y", "set-5-held": "y", "set-6-held": "",
        "set-999999999999-held": "y", "set-x-held": "y", "set--held": "y"})
    assert ok and form.sets.data == {4: 2} and form.sets_held.data == {4, 5}
    for bad in ("100", "-1", "１", "abc"):
        form, ok = _picked(app, warehouse_id="1", **{"set-4": bad})
        assert not ok and form.sets.errors == ["套餐份数 0 到 99"] and form.sets.data == {}, bad


def test_ids_from_drops_ids_no_row_can_have():
    from blueprints.forms import ids_from
    assert ids_from(["3", "999999999999", "2", "x", "0", str(2**31 - 1)]) == [2, 3, 2**31 - 1]


def test_error_text_reads_the_messages_of_enclosed_forms_not_their_names(app):
    from wtforms import Form, FormField

    from blueprints.forms import MoneyField, error_text

    class Counted(Form):
        cash = MoneyField(message="现金不是金额")
        wechat = MoneyField(message="微信不是金额")

    class Close(BaseForm):
        class Meta:
            csrf = False

        warehouse_id = IdField(message="请选择仓库")
        counted = FormField(Counted, separator="-")

    with app.test_request_context(method="POST", data={"counted-cash": "一百",
                                                       "counted-wechat": "x"}):
        form = Close()
        assert not form.validate()
        assert error_text(form) == "请选择仓库 现金不是金额 微信不是金额"


def test_quick_select_writes_what_wtforms_writes(app):
    """QuickSelect (the marketer lists: 2,000 options) renders exactly wtforms' select: values
    and labels escaped, the chosen one selected, a blank choice kept."""
    from wtforms import FieldList, SelectField

    from blueprints.forms import QuickSelect, choices

    options = choices([(0, "任何人"), (1, "张<三>"), (2, '李"四'), (3, "")])

    class Pick(BaseForm):
        class Meta:
            csrf = False
        plain = SelectField(choices=options, coerce=int)
        quick = SelectField(choices=options, coerce=int, widget=QuickSelect())

    with app.test_request_context():
        for chosen in (1, 0, None):
            form = Pick(data={"plain": chosen, "quick": chosen})
            assert str(form.quick()).replace("quick", "plain") == str(form.plain())
        assert 'selected value="1">张&lt;三&gt;</option>' in str(Pick(data={"quick": 1}).quick())


def test_a_form_is_freed_with_its_last_reference_not_by_the_garbage_collector(app):
    """Fields know their form by a weak reference: a form and its fields are no reference
    cycle, so a page's forms (a filter with 2,000 marketers to choose from) are freed when the
    request ends, not by the collector's full passes that stall a worker every few pages."""
    import gc
    import weakref

    from wtforms import FieldList, SelectField

    from blueprints.forms import choices

    class Filter(BaseForm):
        class Meta:
            csrf = False

        owner = SelectField(coerce=int)
        name = StringField()
        phones = FieldList(StringField(), min_entries=2)  # entries bound by the list itself

    with app.test_request_context():
        gc.collect()
        gc.disable()
        try:
            form = Filter(MultiDict({"owner": "7", "name": "  王芳 ", "phones-0": "",
                                     "phones-1": " 139 "}))
            form.owner.choices = choices([(i, f"业务员{i}") for i in range(2000)])
            assert form.validate() and form.owner.data == 7 and form.name.data == "王芳"
            assert form.phones.data == ["", "139"]
            assert '<option selected value="7">业务员7<' in form.owner()
            refused = Filter(MultiDict({"owner": "2001"}))
            refused.owner.choices = form.owner.choices
            assert not refused.validate() and refused.owner.errors
            freed = [weakref.ref(x) for x in (form, form.owner, refused, refused.name)]
            del form, refused
            assert [ref() for ref in freed] == [None] * 4
            assert gc.collect() == 0  # nothing was left for the collector
        finally:
            gc.enable()

"""What every form shares: whitespace stripped, the one-time token field, the one money field,
and the reading of ids and pages from the query string."""
import weakref
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel import support
from flask import flash as flash_message, request
from flask_babel import get_locale, gettext as _, lazy_gettext as _l
from flask_sqlalchemy.pagination import SelectPagination
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from markupsafe import Markup, escape
import wtforms
from wtforms import FieldList, FormField, HiddenField, SelectChoice
from wtforms.i18n import messages_path
from wtforms.validators import InputRequired, Optional, ValidationError

from formatting import FIRST_DAY, LAST_DAY, parse_id
from models.base import InvalidInput, OperationError, is_token, new_token


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class BaseForm(FlaskForm):
    """A FlaskForm (CSRF on) whose text input arrives with surrounding whitespace removed."""

    class Meta:
        def get_translations(self, form):
            # WTForms' own messages ("This field is required.") in the user's language, read
            # from disk once per locale instead of once per request as Flask-WTF does.
            return _wtforms_translations(str(get_locale() or "zh_CN"))

        def bind_field(self, form, unbound_field, options):
            filters = unbound_field.kwargs.get("filters", ())
            if unbound_field.field_class in (FieldList, FormField):
                pass  # their enclosed fields are stripped by their own form
            elif _strip not in filters:
                unbound_field.kwargs["filters"] = (_strip, *filters)
            # A field knows its form through a weak reference: form and fields would otherwise
            # be a reference cycle, freed only by the garbage collector's passes — a list page's
            # filter form with its 4,000 marketer choices, every request, made one full pass
            # (15-25 ms in a worker) every few pages.
            # (A FieldList binds its entries with the weak reference it holds itself.)
            if not isinstance(form, weakref.ProxyType):
                form = weakref.proxy(form)
            return unbound_field.bind(form=form, **options)

    def add_error(self, exc):
        """Show an OperationError next to its field, or at the top of the form."""
        add_operation_error(self, exc)


@lru_cache(maxsize=8)
def _wtforms_translations(locale):
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class IntegerField(wtforms.IntegerField):
    """WTForms' IntegerField, refusing numbers longer than any count or amount in the app (15
    digits) as not a number: WTForms' NumberRange turns the value into a float, which fails on
    a few hundred digits (a 500 instead of a message). Every form imports this one."""

    MAX_DIGITS = 15

    def process_formdata(self, valuelist):
        if valuelist and isinstance(valuelist[0], str) and \
                len(valuelist[0].strip().lstrip("+-")) > self.MAX_DIGITS:
            self.data = None
            raise ValueError(_("This number is too large."))
        super().process_formdata(valuelist)


#: The largest amount a money field takes (yuan) unless told otherwise.
MAX_YUAN = 1_000_000


def to_fen(value):
    """Yuan (a Decimal from a form) → integer fen; None stays None."""
    return None if value is None else int((Decimal(value) * 100).to_integral_value())


def yuan(fen):
    """Integer fen → yuan (a Decimal, to fill a money field); None stays None."""
    return None if fen is None else Decimal(fen) / 100


def parse_yuan(raw, minimum=0, maximum=MAX_YUAN):
    """An amount typed in yuan → a Decimal from `minimum` to `maximum`. ValueError when it is
    not a number, and also for the values Decimal accepts that are not amounts: NaN, sNaN
    (which breaks any comparison: a 500 in WTForms' NumberRange), Infinity, 1E+999999."""
    try:
        value = Decimal(raw.strip())
    except (InvalidOperation, AttributeError, ValueError):
        raise ValueError("not a number") from None
    if not value.is_finite() or not minimum <= value <= maximum:
        raise ValueError("out of range")
    return value


class MoneyField(wtforms.DecimalField):
    """The one field for an amount of money, typed in yuan (two places): every form's prices,
    costs, payments and thresholds. Its value is a Decimal (to_fen() makes it fen) or None.

    The amount is checked here, when the form data is read, not by NumberRange: anything that
    is not a finite number from `minimum` to `maximum` gets `message` (by default "Enter an
    amount from ¥0 to ¥1,000,000."). `required`: an empty field is refused too.
    """

    def __init__(self, label=None, validators=None, *, required=False, minimum=0,
                 maximum=MAX_YUAN, message=None, **kwargs):
        minimum, maximum = Decimal(str(minimum)), Decimal(str(maximum))
        self.minimum, self.maximum = minimum, maximum
        self.message = message or _l("Enter an amount from ¥%(low)s to ¥%(high)s.",
                                     low=f"{minimum:,}", high=f"{maximum:,}")
        super().__init__(label, [
            InputRequired(_l("Enter the amount.")) if required else Optional(),
            *(validators or [])], places=2, **kwargs)

    def process_formdata(self, valuelist):
        self.data = None
        if not valuelist or not isinstance(valuelist[0], str) or not valuelist[0].strip():
            return
        try:
            self.data = parse_yuan(valuelist[0], self.minimum, self.maximum)
        except ValueError:
            raise ValueError(self.message) from None


def _valid_token(form, field):
    if not is_token(field.data):
        raise ValidationError(_l("This form has expired. Reload the page and try again."))


class TokenField(HiddenField):
    """The one-time token of a form that writes a ledger entry (DESIGN §3).

    Rendered with a fresh UUID; the operation stores it under a unique constraint, so a
    resubmission (double tap, retry) returns the first result instead of writing again.
    """

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators=[_valid_token, *(validators or [])],
                         default=new_token, **kwargs)

    def process(self, formdata, data=wtforms.utils.unset_value, extra_filters=None):
        # A posted token is the form's token: a fresh one (a uuid4, a system call: 2 % of the
        # door queue's CPU) is made only for a form shown, or posted without one.
        if data is wtforms.utils.unset_value and formdata is not None and formdata.get(self.name):
            data = None
        super().process(formdata, data, extra_filters)


def posted_token():
    """The one-time token of a page posted without a FlaskForm (its lines are read by hand):
    what TokenField would accept, or InvalidInput (TokenField's message) for anything else —
    a longer string would reach the database's 36-character column (a 500 on PostgreSQL). A
    post without one (a script) gets a fresh token: written once, not deduplicated."""
    token = request.form.get("token", "")
    if not token:
        return new_token()
    if not is_token(token):
        raise InvalidInput(_("This form has expired. Reload the page and try again."))
    return token


def add_operation_error(form, exc):
    """Show an OperationError next to its field (exc.field), or at the top of the form."""
    field = form._fields.get(exc.field) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, exc.message]
    else:
        form.form_errors.append(exc.message)


def choices(pairs):
    """(value, label) pairs as WTForms SelectChoice objects (tuples are deprecated in 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]


def refusal_status(form):
    """The status of a refused form: 400 when its CSRF token failed (an expired page), else
    422 (what was typed is refused)."""
    return 400 if "csrf_token" in form.errors else 422


def sane_date(form, field):
    """Refuse dates a database or a timedelta would choke on (year 1 or 9999): the bounds of
    formatting.parse_day, which reads the days of every query string."""
    if field.data is not None and not FIRST_DAY <= field.data <= LAST_DAY:
        raise ValidationError(_l("Choose a date from %(first)s to %(last)s.",
                                 first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat()))


def error_text(form):
    """All of a form's errors as one line (for a flash message after a redirect): the messages
    of the fields of its FormFields and FieldLists too, never a field's name."""
    def messages(errors):
        if isinstance(errors, dict):
            errors = errors.values()
        for error in errors:
            if isinstance(error, (dict, list, tuple)):
                yield from messages(error)
            else:
                yield str(error)
    return " ".join(messages(form.errors))


#: Page numbers beyond this are treated as this (a huge number would overflow the database).
MAX_PAGE = 100000


class QuickSelect(wtforms.widgets.Select):
    """wtforms' select, its plain options written straight out (the same HTML): a list of
    2,000 marketers took 90 ms to render through html_params, option by option."""

    @classmethod
    def render_option(cls, choice, **kwargs):
        if choice.render_kw or kwargs:
            return super().render_option(choice, **kwargs)
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        return Markup(f'<option {"selected " if choice.selected else ""}value="{escape(value)}">'
                      f'{escape(choice.label or choice.value)}</option>')


#: A list counts its rows up to this many (or ten pages past the one shown, if more): beyond,
#: it says "more than" (page.more) — counting two million customers on every page view cost
#: more than showing the page.
COUNT_AT_MOST = 1000


def paginate(query, per_page, *, key=None):
    """A page of `query` (Flask-SQLAlchemy's pagination) with the page number from the query
    string, kept within sane bounds. Its count stops at COUNT_AT_MOST rows or ten pages past
    this one: page.total is exact when page.more is False, else a lower bound (the pages up
    to it are linked, and Next goes on). `key` (the rows' id column): the page's ids are found
    first, from an index alone, then only those rows read, by id (page 500 skips 15,000 ids,
    not 15,000 table rows), as a plain select of the query's entity loads them (the query's
    own loader options do not carry over)."""
    from extensions import db
    raw = request.args.get("page", "1")
    number = max(1, min(int(raw) if raw.isdecimal() and len(raw) <= 6 else 1, MAX_PAGE))
    return _ListPage(select=query, session=db.session(), key=key, page=number,
                     per_page=per_page, max_per_page=None, error_out=False)


class _ListPage(SelectPagination):
    """paginate's page: a count that stops, and the page's rows by their ids (`key`)."""

    def _query_items(self):
        query, key = self._query_args["select"], self._query_args["key"]
        if key is None:
            return super()._query_items()
        session = self._query_args["session"]
        ids = session.scalars(query.with_only_columns(key, maintain_column_froms=True)
                              .limit(self.per_page).offset(self._query_offset)).all()
        if not ids:
            return []
        # The page's rows by their ids alone, put in the ids' order. In one statement with the
        # list's conditions (`… WHERE <conditions> AND key IN (page's ids)`), PostgreSQL read
        # again every row the conditions match whenever it misjudged how many they were: a
        # search's 16,000 found customers by primary key for a page of 30 (90 ms of 180 at two
        # million customers, bench/scale.py --explain). The ids come from `query` (scoped).
        entity = query.column_descriptions[0]["entity"]
        rows = {getattr(row, key.key): row for row in session.execute(
            select(entity).where(key.in_(ids))).unique().scalars()}
        return [rows[i] for i in ids if i in rows]

    def _query_count(self):
        query = self._query_args["select"]
        cap = max(COUNT_AT_MOST, (self.page + 10) * self.per_page)
        # A query that knows how many rows it finds (a search, models.customers.reads) is not
        # counted again.
        known = query.get_execution_options()
        if "found_count" in known or known.get("found_at_least", 0) > cap:
            counted = known.get("found_count", known.get("found_at_least"))
            self.more = counted > cap
            return min(counted, cap)
        # One column is enough to count (the page's joins and the rest of its columns are not).
        rows = query.order_by(None).with_only_columns(query.selected_columns[0],
                                                      maintain_column_froms=True)
        counted = self._query_args["session"].scalar(select(func.count()).select_from(
            rows.limit(cap + 1).subquery()))
        self.more = counted > cap
        return min(counted, cap)


def id_arg(name):
    """A positive whole number from the query string — a row id, a page, a number of days:
    1 … 2**31−1 (formatting.parse_id), or None when absent or anything else."""
    return parse_id(request.args.get(name))


def id_choice(value):
    """coerce= of a SelectField whose choices are row ids, with 0 for "any" or "none": a
    value that is neither is refused as a choice (and the field's data stays None) instead of
    reaching a query as a number the database cannot hold."""
    if value == 0 or (isinstance(value, str) and value.strip() == "0"):
        return 0
    number = parse_id(value)
    if number is None:
        raise ValueError(value)
    return number


def ids_from(values, limit=5000):
    """Row ids from a list of submitted strings; anything that is not an id a row can have
    (formatting.parse_id) is dropped."""
    return sorted({number for number in map(parse_id, values[:limit]) if number is not None})


class IdField(wtforms.Field):
    """A row id posted by a form (a hidden field, a select of rows): 1 … 2**31−1, else the
    field's error (and data None). `required=False`: blank (or 0, "none chosen") is None."""
    widget = wtforms.widgets.HiddenInput()

    def __init__(self, label=None, validators=None, *, required=True, message=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.required = required
        self.message = message or _l("Choose from the list.")

    def process_formdata(self, valuelist):
        raw = (valuelist[0] if valuelist else "") or ""
        raw = raw.strip() if isinstance(raw, str) else raw
        self.data = parse_id(raw)
        if self.data is None and (self.required or raw not in ("", "0")):
            raise ValueError(self.message)

    def pre_validate(self, form):
        if self.data is None and self.required and not self.process_errors:
            raise ValidationError(self.message)

    def _value(self):
        return str(self.data) if self.data else ""


class IdListField(wtforms.Field):
    """Row ids ticked in a list (checkboxes of one name): each 1 … 2**31−1, at most `limit`;
    anything else is the field's error."""

    def __init__(self, label=None, validators=None, *, limit=5000, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.limit = limit

    def process_formdata(self, valuelist):
        ids = [parse_id(value) for value in valuelist[:self.limit + 1]]
        self.data = sorted({number for number in ids if number is not None})
        if None in ids or len(valuelist) > self.limit:
            raise ValueError(_l("Tick rows from the list (at most %(n)s).", n=self.limit))

    def _value(self):
        return ""


class QuantitiesField(wtforms.Field):
    """Quantities typed on the lines of a page, one input a line named `prefix` + its key
    ("line-12", "redeemed-3-7"): data is {key: n} of the lines with a number (key: the int, or
    a tuple of ints when the name has several), blank lines left out. Whole numbers from 0 to
    `maximum`; anything else is the field's error."""

    def __init__(self, label=None, validators=None, *, prefix, parts=1, maximum=999_999,
                 message=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.prefix, self.parts, self.maximum = prefix, parts, maximum
        self.message = message
        self.entered = {}

    def process(self, formdata, data=wtforms.utils.unset_value, extra_filters=None):
        self.process_errors, self.data, self.entered = [], {}, {}
        if formdata is None:
            return
        for name in formdata:
            if not name.startswith(self.prefix):
                continue
            pieces = name[len(self.prefix):].split("-")
            ids = [parse_id(piece) for piece in pieces]
            if len(ids) != self.parts or None in ids:
                continue  # not one of the page's lines
            raw = (formdata.get(name) or "").strip()
            self.entered[name] = raw
            if not raw:
                continue
            if not (raw.isascii() and raw.isdecimal()) or int(raw) > self.maximum:
                self.process_errors.append(str(self.message or _("Quantities are whole "
                                                                 "numbers.")))
                continue
            self.data[ids[0] if self.parts == 1 else tuple(ids)] = int(raw)


class TickedField(wtforms.Field):
    """Boxes ticked on the lines of a page, one checkbox a line named `prefix` + its row id +
    `suffix` ("package-12-held"): data is the set of the ids ticked. A name whose id is not one
    a row can have is not one of the page's lines and is left out."""

    def __init__(self, label=None, validators=None, *, prefix, suffix="", **kwargs):
        super().__init__(label, validators, **kwargs)
        self.prefix, self.suffix = prefix, suffix

    def process(self, formdata, data=wtforms.utils.unset_value, extra_filters=None):
        self.process_errors, self.data = [], set()
        if formdata is None:
            return
        for name in formdata:
            if name.startswith(self.prefix) and name.endswith(self.suffix) and \
                    len(name) > len(self.prefix) + len(self.suffix) and formdata.get(name):
                number = parse_id(name[len(self.prefix):len(name) - len(self.suffix)])
                if number is not None:
                    self.data.add(number)


def link_args(args):
    """Query-string arguments safe to pass back into url_for(): none of Flask's own
    (_external, _scheme, _anchor, _method) and no "endpoint"."""
    return {k: v for k, v in args.items() if not k.startswith("_") and k != "endpoint"}


class attempt:
    """The request's one transaction around its operations (DESIGN: operations never commit,
    the route does). On a normal exit of the `with` block: commit. On an OperationError: roll
    back, keep the refusal (`.refusal`, `.status`), put it on `form` if one is given
    (form.add_error), flash it if `flash=True`, and swallow it. Any other exception propagates
    (the request's teardown discards the session).

        with attempt(form) as tried:
            result = some_operation(...)
        if tried.refusal:
            return render_template(...), tried.status

    No `return` inside the block: the commit happens on leaving it, before the response is
    built from what was written."""

    def __init__(self, form=None, *, flash=False):
        self.form, self.flash = form, flash
        #: The OperationError that refused, or None.
        self.refusal = None
        #: 200, or the refusal's status.
        self.status = 200

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        from extensions import db
        if kind is None:
            db.session.commit()
            return False
        if not issubclass(kind, OperationError):
            return False
        db.session.rollback()
        self.refusal, self.status = exc, exc.status
        if self.form is not None:
            self.form.add_error(exc)
        if self.flash:
            flash_message(exc.message, "danger")
        return True


def run_operation(operation, success):
    """For one-button actions that redirect: run `operation()`; on success commit and flash
    `success` (text, or a callable given the operation's result); on an OperationError roll
    back and flash the refusal. Returns True when it succeeded."""
    with attempt(flash=True) as tried:
        result = operation()
    if tried.refusal:
        return False
    flash_message(success(result) if callable(success) else success, "success")
    return True

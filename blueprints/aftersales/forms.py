"""The forms of after-sales: a new ticket (kind, product, order, what is wrong, who is
responsible), a note, a hand-over, and the status changes (start, close with the outcome,
reopen with the reason); the list's filters. Choices of rows are offered, but an operation
decides: a posted id that is not one of them is refused there with its message."""
from flask_babel import lazy_gettext as _l, lazy_pgettext as _lp
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from blueprints.forms import BaseForm, TokenField, choices, id_choice
from extensions import db
from formatting import fen, local_day
from models import aftersales as a, inventory as inv, orders as o


def _people(actor):
    return [(u.id, u.display_name + (f"（{u.department.name}）" if u.department else ""))
            for u in db.session.scalars(a.assignable_users(actor))]


class TicketForm(BaseForm):
    kind = RadioField(_l("Kind of problem"), choices=choices(a.KINDS.items()),
                      validators=[Optional()])
    product_id = SelectField(_l("Product"), coerce=id_choice, validate_choice=False,
                             validators=[Optional()])
    order_id = SelectField(_l("Order"), coerce=id_choice, validate_choice=False,
                           validators=[Optional()])
    description = TextAreaField(_l("The problem"), validators=[Length(max=a.MAX_TEXT)])
    assignee_id = SelectField(_l("Responsible"), coerce=id_choice, validate_choice=False,
                              validators=[Optional()])
    token = TokenField()

    def __init__(self, customer, actor, *args, **kwargs):
        super().__init__(*args, **kwargs)
        orders = o.orders_of_customer(customer)
        self.order_id.choices = choices([(0, _l("(no order)"))] + [
            (order.id, f"{order.number} · {local_day(order.created_at)} · {fen(order.total)}")
            for order in orders])
        # The goods the customer bought first, then every other product on sale.
        bought = {line.product.id: line.product for order in orders for line in order.lines}
        others = [p for p in db.session.scalars(inv.find_products(flag="for_sale"))
                  if p.id not in bought]
        self.product_id.choices = choices([(0, _l("(no particular product)"))] + [
            (p.id, p.name) for p in [*bought.values(), *others]])
        self.assignee_id.choices = choices(_people(actor))


class NoteForm(BaseForm):
    text = TextAreaField(_l("Note"), validators=[Length(max=a.MAX_TEXT)])
    token = TokenField()


class AssignForm(BaseForm):
    assignee_id = SelectField(_l("Hand to"), coerce=id_choice, validate_choice=False,
                              validators=[Optional()])
    note = StringField(_l("Why (optional)"), validators=[Length(max=a.MAX_TEXT)])
    token = TokenField()

    def __init__(self, actor, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.assignee_id.choices = choices(_people(actor))


class StartForm(BaseForm):
    note = StringField(_l("Note (optional)"), validators=[Length(max=a.MAX_TEXT)])
    token = TokenField()


class CloseForm(BaseForm):
    outcome = TextAreaField(_lp("ticket", "Outcome"), validators=[Length(max=a.MAX_TEXT)])
    token = TokenField()


class ReopenForm(BaseForm):
    reason = StringField(_l("Why reopen"), validators=[Length(max=a.MAX_TEXT)])
    token = TokenField()


STATUS_FILTERS = {"unresolved": _l("Unresolved"), **a.STATUSES, "": _l("All")}


class FilterForm(BaseForm):
    class Meta:
        csrf = False

    status = SelectField(_l("Status"), choices=choices(STATUS_FILTERS.items()),
                         default="unresolved", validators=[Optional()])
    kind = SelectField(_l("Kind of problem"),
                       choices=choices([("", _l("Any kind")), *a.KINDS.items()]),
                       validators=[Optional()])
    assignee_id = SelectField(_l("Responsible"), coerce=id_choice, validators=[Optional()])
    overdue = BooleanField(_l("Overdue only"))

    def __init__(self, actor, people, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.assignee_id.choices = choices([(0, _l("Anyone"))] + [
            (u.id, u.display_name) for u in people])

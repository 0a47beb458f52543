"""Price authority (价格权限): how far below the list price a seller may go on their own.

Every product has a floor price (最低售价: Product.floor_price, or its cost price when none is
set). Each selling role has a discount cap, a setting (orders.cap_marketer_pct …): how many
percent off the list price one line may go. A customer's grade may carry a price of its own
(orders.grade_a_pct …, e.g. A 级 9 折): the form offers it as the unit price, and it counts as
within authority.

A product line is within the seller's authority when what it comes to is at least
- the floor price × quantity, and
- the list price × quantity less the seller's cap, or the grade price × quantity.
A line outside it makes the order wait for approval by a department head of the order's
department or a manager — the same second confirmation a large order gets
(order_taking.confirm_order: on the approver's own device, or with their PIN on the tablet).
Until then the order is pending: no deposit is taken and no goods leave. A department head may
approve discounts up to their own cap; beyond it, a manager. A manager's own orders are within
authority (below the floor is still recorded on the order).

Lines from a package are sold at the package's price, which a manager set and which may not be
below the floors of its contents (orders.save_package): they are within authority.

What is recorded on the order: list_total (Σ list price × quantity of its lines, at the time),
so its discount (优惠) is list_total − total; below_floor (a line came to less than its floor);
price_reason (why it needed approval, in words). The approver is the order's confirmer.
"""
from flask_babel import gettext as _, lazy_gettext as _l

from formatting import fen
from models.settings import define, get_setting

#: The roles that sell, with their discount cap's setting; a manager has no cap.
CAP_SETTINGS = {"marketer": "orders.cap_marketer_pct", "dept_head": "orders.cap_dept_head_pct"}
GRADES = ("A", "B", "C", "D")

define("orders.cap_marketer_pct", "int", 10, _l("Discount cap: marketer (% off list price)"),
       _l("How far below the list price a marketer may sell one line without approval. "
          "Below it, or below the product's floor price, a department head or manager "
          "approves."), min=0, max=100)
define("orders.cap_dept_head_pct", "int", 20,
       _l("Discount cap: department head (% off list price)"),
       _l("How far below the list price a department head may sell, or approve, one line. "
          "Beyond it, a manager approves."), min=0, max=100)
for _grade in GRADES:
    define(f"orders.grade_{_grade.lower()}_pct", "int", 100,
           _l("Grade %(grade)s customers' price (%% of list price)", grade=_grade),
           _l("The unit price the order form offers customers of this grade (90: a tenth off). "
              "It counts as within the seller's authority. 100: the list price."),
           min=1, max=100)


def floor_price(product):
    """The lowest unit price (fen) a product sells at without approval: its floor, or its
    cost."""
    return product.standard_cost if product.floor_price is None else product.floor_price


def grade_pct(customer):
    """Percent of the list price the customer's grade pays (100: none)."""
    grade = customer.grade if customer is not None else ""
    return get_setting(f"orders.grade_{grade.lower()}_pct") if grade in GRADES else 100


def grade_price(product, customer):
    """The unit price (fen) the form offers this customer: the grade's price, rounded up to
    the fen."""
    return -(-product.sale_price * grade_pct(customer) // 100)


def cap_pct(user):
    """Percent off the list price `user` may give on their own: the largest of their roles'
    caps; a manager: 100."""
    if user.has_role("manager"):
        return 100
    return max([get_setting(key) for role, key in CAP_SETTINGS.items() if user.has_role(role)],
               default=0)


def discount_pct(list_total, amount):
    """Percent off the list price, rounded up (a line 10.01 % off is over a 10 % cap)."""
    if list_total <= 0 or amount >= list_total:
        return 0
    return -(-(list_total - amount) * 100 // list_total)


def review_line(line, customer):
    """What the price of a product line asks for: (percent off the list price it needs
    approval for — 0 when within every cap, below the floor: whether it is). `line` holds
    product, quantity, unit_price, discount."""
    product, quantity = line["product"], line["quantity"]
    amount = quantity * line["unit_price"] - line["discount"]
    below = amount < floor_price(product) * quantity
    if line.get("package") is not None or amount >= grade_price(product, customer) * quantity:
        return 0, below
    return discount_pct(product.sale_price * quantity, amount), below


def review(lines, customer, actor):
    """The approval an order's lines need when `actor` takes it: (reason in words or "",
    below the floor, percent off needing approval). Within the actor's cap and above every
    floor: no reason."""
    cap = cap_pct(actor)
    reasons, below_any, needed = [], False, 0
    for index, line in enumerate(lines):
        pct, below = review_line(line, customer)
        below_any = below_any or below
        if below and not actor.has_role("manager"):
            reasons.append(_("line %(n)s %(name)s below its floor price %(floor)s",
                             n=index + 1, name=line["product"].name,
                             floor=fen(floor_price(line["product"]))))
        elif pct > cap:
            listed = line["product"].sale_price * line["quantity"]
            off = listed - (line["quantity"] * line["unit_price"] - line["discount"])
            reasons.append(_("line %(n)s %(name)s %(pct)s %% off, above the %(cap)s %% you "
                             "may give", n=index + 1, name=line["product"].name,
                             pct=f"{-(-off * 1000 // listed) / 10:.1f}", cap=cap))  # tenths, up
        if pct > cap or (below and not actor.has_role("manager")):
            needed = max(needed, pct)
    if not reasons:
        return "", below_any, 0
    return _("Price approval: %(lines)s.", lines="；".join(reasons)), below_any, needed


def may_approve(user, order):
    """Whether `user` (already one who may confirm the order) may approve its prices: a
    manager, or a department head whose cap covers the discount asked for."""
    if not order.price_reason or user.has_role("manager"):
        return True
    return order.discount_needed <= cap_pct(user)

"""Factory functions for tests: make_department(), make_user(). They flush, never commit."""
import itertools

from extensions import db
from formatting import local_day
from models import accounts
from models.base import utcnow

PASSWORD = "secret123"
_counter = itertools.count(1)



def company_today():
    """The company's day now (its time zone, a setting): what "today" means to the app. Not
    date.today() nor the UTC date — those are another day for eight hours of every day."""
    return local_day(utcnow())

def make_department(name=None, parent=None):
    department = accounts.create_department(name or f"部门{next(_counter)}", parent=parent,
                                            actor=None)
    db.session.flush()  # the audit entry too, so ids follow the order things happened
    return department


def make_user(roles=("marketer",), *, username=None, display_name=None, department=None,
              password=PASSWORD, phone=""):
    n = next(_counter)
    user = accounts.create_user(username=username or f"user{n}",
                                display_name=display_name or f"用户{n}", password=password,
                                roles=list(roles), department=department, phone=phone,
                                actor=None)
    db.session.flush()
    return user


_phones = itertools.count(13800000001)


def make_customer(owner=None, *, name="张三", phone=None, actor=None, **fields):
    """A customer owned by `owner` (a new marketer if None), with a unique mobile."""
    from models import customers
    owner = owner or make_user(["marketer"])
    data = customers.CustomerData(name=name, phone=phone or str(next(_phones)), **fields)
    customer = customers.create_customer(data, actor=actor or owner, owner=owner)
    db.session.flush()
    return customer


def make_event(planner=None, *, title="健康讲座", status="open", capacity=100, days=3):
    """An event starting in `days` days, moved to `status` along the allowed path."""
    from datetime import timedelta

    from models import events
    from models.base import utcnow
    planner = planner or make_user(["manager"])
    start = utcnow() + timedelta(days=days)
    event = events.create_event(title=title, kind="lecture", venue="幸福酒店三楼",
                                starts_at=start, ends_at=start + timedelta(hours=3),
                                capacity=capacity, actor=planner)
    path = {"planning": [], "open": ["open"], "in_progress": ["open", "in_progress"],
            "closed": ["open", "in_progress", "closed"], "cancelled": ["cancelled"]}[status]
    for step in path:
        events.change_event_status(event, step, actor=planner)
    db.session.flush()
    return event


_skus = itertools.count(1)


def make_warehouse(name=None, *, code=None, kind="main", actor=None):
    from models import inventory
    n = next(_skus)
    warehouse = inventory.create_warehouse(
        {"code": code or f"WH{n}", "name": name or f"仓库{n}", "kind": kind},
        actor=actor or make_user(["warehouse"]))
    db.session.flush()
    return warehouse


def make_product(name="灵芝孢子粉", *, sku=None, unit="盒", actor=None, **fields):
    """A product for sale (and whatever flags are given), ¥198 a box, cost ¥60."""
    from models import inventory
    data = {"sku": sku or f"SKU{next(_skus):05d}", "name": name, "unit": unit,
            "sale_price": 19800, "standard_cost": 6000, "for_sale": True, **fields}
    product = inventory.create_product(data, actor=actor or make_user(["warehouse"]))
    db.session.flush()
    return product


def make_stocked_product(warehouse, quantity=100, *, actor=None, **fields):
    """A product for sale with `quantity` in stock in `warehouse`."""
    from models import inventory
    actor = actor or make_user(["warehouse"])
    product = make_product(actor=actor, **fields)
    inventory.receive(product=product, quantity=quantity, warehouse=warehouse, actor=actor,
                      batch_number="B1")
    db.session.flush()
    return product


def make_order(customer=None, *, lines=None, warehouse=None, actor=None, channel="store",
               **kwargs):
    """An order (by default one product ¥198 × 2, taken home) for a customer."""
    from models import order_taking
    from models.base import new_token
    warehouse = warehouse or make_warehouse()
    customer = customer or make_customer()
    actor = actor or customer.owner
    if lines is None:
        lines = [{"product": make_stocked_product(warehouse), "quantity": 2}]
    order = order_taking.create_order(customer, lines=lines, actor=actor, token=new_token(),
                                      warehouse=warehouse, channel=channel, **kwargs)
    db.session.flush()
    return order


def make_venue(cups=21):
    """An event with its door staff (赵敏), a manager (李总), a warehouse clerk (钱库管), a
    marketer (刘芳), and a venue warehouse (会场物料) holding `cups` 养生杯 (GF-1, cost ¥15) that
    the event's gifts come from — as a dict of those."""
    from models import events, gifts
    manager = make_user(["manager"], display_name="李总")
    staff = make_user(["event_staff"], display_name="赵敏")
    clerk = make_user(["warehouse"], display_name="钱库管")
    marketer = make_user(["marketer"], display_name="刘芳")
    warehouse = make_warehouse("会场物料", kind="venue")
    event = make_event(manager, title="养生讲座")
    events.set_event_staff(event, [staff], actor=manager)
    gifts.set_event_warehouse(event, warehouse, actor=manager)
    cup = make_stocked_product(warehouse, cups, name="养生杯", sku="GF-1", is_gift=True,
                               for_sale=False, standard_cost=1500)
    return dict(manager=manager, staff=staff, clerk=clerk, marketer=marketer,
                warehouse=warehouse, event=event, cup=cup)



def xlsx_sheet(rows, headers):
    """The bytes of an .xlsx whose first sheet holds `headers` then `rows` (an uploaded file)."""
    import io

    from openpyxl import Workbook
    workbook = Workbook()
    workbook.active.append(list(headers))
    for row in rows:
        workbook.active.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

"""CLI: `flask --app app demo-data`, `create-admin` and `check-ledgers`."""
from datetime import date

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from blueprints.forms import attempt
from extensions import db
from models import accounts
from models.accounts import Department, User
from models.base import begin_write

#: (department path, ) — parents first.
DEMO_DEPARTMENTS = [
    ("总部",), ("总部", "销售一部"), ("总部", "销售二部"), ("总部", "会务部"),
    ("总部", "仓储部"), ("总部", "财务部"),
]

#: username, display name, roles, department path, password. Listed in the README.
DEMO_USERS = [
    ("admin", "王建国", ["admin"], ("总部",), "admin2026"),
    ("manager", "李明华", ["manager"], ("总部",), "manager2026"),
    ("depthead", "张丽", ["dept_head"], ("总部", "销售一部"), "depthead2026"),
    ("marketer", "刘芳", ["marketer"], ("总部", "销售一部"), "marketer2026"),
    ("marketer2", "陈伟", ["marketer"], ("总部", "销售二部"), "marketer2026"),
    ("staff", "赵敏", ["event_staff"], ("总部", "会务部"), "staff2026"),
    ("warehouse", "孙强", ["warehouse"], ("总部", "仓储部"), "warehouse2026"),
    ("finance", "周静", ["finance"], ("总部", "财务部"), "finance2026"),
]


DEMO_TAGS = ["高血压", "糖尿病", "老会员", "新顾客", "关节不适"]

#: name, gender, owner username, channel, grade, tags, solar birthday or (lunar month, day)
DEMO_CUSTOMERS = [
    ("张秀兰", "F", "marketer", "转介绍", "A", ["老会员", "高血压"], "1951-03-08"),
    ("王桂英", "F", "marketer", "会议营销", "B", ["高血压"], (8, 15)),
    ("李建国", "M", "marketer", "门店", "B", ["糖尿病"], "1948-10-01"),
    ("赵淑珍", "F", "marketer", "地推", "C", ["新顾客"], (1, 6)),
    ("刘德福", "M", "marketer", "电话", "", [], "1955-06-20"),
    ("陈玉梅", "F", "marketer", "会议营销", "A", ["老会员", "关节不适"], "1950-12-12"),
    ("杨振华", "M", "marketer2", "转介绍", "B", ["高血压", "糖尿病"], (4, 18)),
    ("黄秀英", "F", "marketer2", "网络", "C", [], "1957-02-14"),
    ("周国强", "M", "marketer2", "门店", "", ["新顾客"], "1949-09-09"),
    ("吴丽华", "F", "marketer2", "会议营销", "A", ["老会员"], (12, 23)),
    ("徐志明", "M", "marketer2", "地推", "D", [], "1953-05-05"),
    ("孙凤琴", "F", "marketer2", "电话", "B", ["关节不适"], "1946-07-30"),
]


def load_demo_customers(users, echo=print):
    """Demo channels, tags and a dozen customers, written only into an empty archive."""
    from models import customers as c
    written = c.ensure_default_channels()
    for name in DEMO_TAGS:
        if db.session.scalar(select(c.Tag).where(c.Tag.name == name)) is None:
            db.session.add(c.Tag(name=name))
            written += 1
    db.session.flush()
    if db.session.scalar(select(c.Customer.id).limit(1)) is not None:
        return written
    channels = {ch.name: ch.id for ch in db.session.scalars(select(c.Channel))}
    tags = {t.name: t.id for t in db.session.scalars(select(c.Tag))}
    for index, (name, gender, owner, channel, grade, tag_names, birthday) in enumerate(
            DEMO_CUSTOMERS, start=1):
        data = c.CustomerData(name=name, phone=f"139{index:08d}", gender=gender,
                              channel_id=channels[channel], grade=grade,
                              tag_ids=tuple(tags[t] for t in tag_names), district="朝阳区")
        if isinstance(birthday, str):
            data.birthday_kind, data.birthday = "solar", date.fromisoformat(birthday)
        else:
            data.birthday_kind, (data.lunar_month, data.lunar_day) = "lunar", birthday
        c.create_customer(data, actor=users[owner], owner=users[owner])
        written += 1
    echo(f"  {len(DEMO_CUSTOMERS)} 位示例顾客 demo customers")
    return written


def load_demo_data(echo=print):
    """Create the demo company's departments and users that do not exist yet; return the count
    of rows written (0 on a second run)."""
    written = 0
    departments = {}
    for path in DEMO_DEPARTMENTS:
        parent = departments.get(path[:-1])
        query = select(Department).where(Department.name == path[-1])
        query = query.where(Department.parent_id == parent.id) if parent else \
            query.where(Department.parent_id.is_(None))
        department = db.session.scalar(query)
        if department is None:
            department = accounts.create_department(path[-1], parent=parent, actor=None)
            written += 1
        departments[path] = department
    users = {}
    for username, name, roles, path, password in DEMO_USERS:
        users[username] = accounts.find_user_by_username(username)
        if users[username] is not None:
            continue
        users[username] = accounts.create_user(
            username=username, display_name=name, password=password, roles=roles,
            department=departments[path], actor=None)
        written += 1
        echo(f"  {username:<10} {password:<14} {name}  ({', '.join(roles)})")
    return written + load_demo_customers(users, echo) + \
        load_demo_stock(users, echo)


#: sku, name, specification, unit, category, flags, price (fen), cost (fen), points, shelf life
DEMO_PRODUCTS = [
    ("LZ-001", "灵芝孢子粉", "60 粒 × 0.5 克", "盒", "保健品", ("for_sale",), 19800, 6000, None,
     730),
    ("YY-002", "深海鱼油软胶囊", "100 粒", "瓶", "保健品", ("for_sale", "redeemable"), 16800,
     4500, 3000, 540),
    ("FJ-003", "蜂胶胶囊", "90 粒", "瓶", "保健品", ("for_sale",), 12800, 3800, None, 720),
    ("BZ-101", "艾灸理疗仪", "家用款", "台", "器械", ("for_sale",), 168000, 52000, None, None),
    ("GF-201", "养生保温杯", "500 毫升", "个", "礼品", ("is_gift", "redeemable"), 0, 1500, 800,
     None),
    ("GF-202", "小米（5 斤装）", "2.5 千克", "袋", "礼品", ("is_gift",), 0, 2200, None, 180),
    ("SP-301", "会议手提袋", "", "个", "物料", ("is_spare",), 0, 150, None, None),
]


def load_demo_stock(users, echo=print):
    """Demo products, a venue warehouse, a first receipt and two packages (大单 / 小单), written
    only into an empty catalogue."""
    from datetime import timedelta

    from models import inventory as inv
    from models.base import new_token, utcnow
    if db.session.scalar(select(inv.Product.id).limit(1)) is not None:
        return 0
    clerk = users["warehouse"]
    main = db.session.scalar(select(inv.Warehouse).where(inv.Warehouse.code == "MAIN")) or \
        inv.create_warehouse({"code": "MAIN", "name": "总仓", "kind": "main"}, actor=clerk)
    inv.create_warehouse({"code": "VENUE", "name": "会场物料", "kind": "venue"}, actor=clerk)
    today = utcnow().date()
    lines = []
    for sku, name, spec, unit, category, flags, price, cost, points, life in DEMO_PRODUCTS:
        product = inv.create_product(
            {"sku": sku, "name": name, "specification": spec, "unit": unit,
             "category": category, **{flag: True for flag in flags}, "sale_price": price,
             "standard_cost": cost, "points_price": points, "shelf_life_days": life,
             "low_stock_threshold": 10}, actor=clerk)
        produced = today - timedelta(days=90)
        lines.append({"product": product, "quantity": 40, "batch_number": f"{produced:%Y%m%d}",
                      "produced_on": produced if life else None})
    lines[0]["quantity"], lines[2]["quantity"] = 120, 6  # one plentiful, one below threshold
    inv.create_receipt(warehouse=main, lines=lines, supplier="康源生物科技", actor=clerk,
                       token=new_token())
    from models import orders
    by_sku = {line["product"].sku: line["product"] for line in lines}
    orders.save_package(None, name="大单", price=198000, actor=users["manager"],
                        description="一年量，送艾灸仪",
                        items=[(by_sku["LZ-001"], 6), (by_sku["YY-002"], 4),
                               (by_sku["BZ-101"], 1)])
    orders.save_package(None, name="小单", price=49800, actor=users["manager"],
                        description="三个月量", items=[(by_sku["LZ-001"], 2),
                                                   (by_sku["YY-002"], 1)])
    echo(f"  {len(DEMO_PRODUCTS)} 个示例商品已入库，2 个套餐 demo products and packages")
    return len(DEMO_PRODUCTS) + 4


@click.command("demo-data")
@click.option("--if-empty", is_flag=True, help="Do nothing if any user exists (first run).")
@with_appcontext
def demo_data_command(if_empty):
    """Fill an empty database with a small demo company (safe to run twice)."""
    begin_write()
    if if_empty and db.session.scalar(select(User.id).limit(1)) is not None:
        click.echo("已有用户，跳过示例数据。 Users exist: demo data skipped.")
        return
    click.echo("示例账号 Demo accounts (username, password, name):")
    written = load_demo_data(echo=click.echo)
    db.session.commit()
    if written:
        click.echo(f"已写入 {written} 条示例数据。 Wrote {written} demo rows.")
    else:
        click.echo("示例数据已存在，未写入任何内容。 Demo data already present: nothing written.")


@click.command("create-admin")
@click.argument("username")
@click.option("--name", default="系统管理员", help="Display name.")
@click.password_option(help="Password (asked for when not given).")
@with_appcontext
def create_admin_command(username, name, password):
    """Create an administrator account (for a fresh production database)."""
    begin_write()
    with attempt() as tried:
        accounts.create_user(username=username, display_name=name, password=password,
                             roles=["admin"], actor=None)
    if tried.refusal:
        raise click.ClickException(str(tried.refusal.message))
    click.echo(f"已创建管理员 {username}。 Administrator {username} created.")


@click.command("check-ledgers")
@with_appcontext
def check_ledgers_command():
    """Recompute every ledger's balances from its entries; exit 1 on any mismatch."""
    from models.ledgers import check_ledgers
    failed = 0
    for name, problems in check_ledgers().items():
        if problems:
            failed += len(problems)
            click.echo(f"✗ {name}: {len(problems)} 处不符 mismatches")
            for problem in problems:
                click.echo(f"    {problem}")
        else:
            click.echo(f"✓ {name}: 账实相符 balances agree")
    if failed:
        raise SystemExit(1)

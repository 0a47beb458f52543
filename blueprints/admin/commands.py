"""CLI: `flask --app app demo-data` and `flask --app app create-admin`."""
import click
from flask.cli import with_appcontext
from sqlalchemy import select

from extensions import db
from models import accounts
from models.accounts import Department, User
from models.base import OperationError, begin_write

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
    for username, name, roles, path, password in DEMO_USERS:
        if accounts.find_user_by_username(username) is not None:
            continue
        accounts.create_user(username=username, display_name=name, password=password,
                             roles=roles, department=departments[path], actor=None)
        written += 1
        echo(f"  {username:<10} {password:<14} {name}  ({', '.join(roles)})")
    return written


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
    try:
        accounts.create_user(username=username, display_name=name, password=password,
                             roles=["admin"], actor=None)
    except OperationError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from None
    db.session.commit()
    click.echo(f"已创建管理员 {username}。 Administrator {username} created.")

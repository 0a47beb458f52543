"""The scoping helpers every later area uses: which rows each role sees, and full phones."""
import pytest
from sqlalchemy import Boolean, Integer, MetaData, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from models.base import NotFound
from models.scoping import (can_see_full_phone, department_subtree_ids, get_scoped_or_404,
                            scoped, visible_users)
from tests.factories import make_department, make_user


class _Base(DeclarativeBase):
    metadata = MetaData()


class Account(_Base):
    """A stand-in for a customer: an owner, a department, maybe in the public pool."""
    __tablename__ = "test_scoped_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(Integer)
    department_id: Mapped[int | None] = mapped_column(Integer)
    in_pool: Mapped[bool] = mapped_column(Boolean, default=False)


Account.__scope__ = {"owner": "owner_id", "department": "department_id",
                     "pool": lambda: Account.in_pool.is_(True)}


@pytest.fixture
def company(db):
    _Base.metadata.create_all(db.session.connection())
    hq = make_department("总部")
    sales = make_department("销售部", parent=hq)
    team1 = make_department("一组", parent=sales)
    team2 = make_department("二组", parent=hq)
    people = {
        "admin": make_user(["admin"], department=hq),
        "manager": make_user(["manager"], department=hq),
        "head": make_user(["dept_head"], department=sales),
        "m1": make_user(["marketer"], department=team1),
        "m2": make_user(["marketer"], department=team2),
        "head_m": make_user(["dept_head", "marketer"], department=team2),
        "staff": make_user(["event_staff"], department=hq),
        "finance": make_user(["finance"], department=hq),
        "warehouse": make_user(["warehouse"], department=hq),
    }
    rows = {
        "a_m1": Account(owner_id=people["m1"].id, department_id=team1.id),
        "a_m2": Account(owner_id=people["m2"].id, department_id=team2.id),
        "a_head": Account(owner_id=people["head"].id, department_id=sales.id),
        "a_pool": Account(owner_id=None, department_id=None, in_pool=True),
    }
    db.session.add_all(rows.values())
    db.session.flush()
    return people, rows, {"hq": hq, "sales": sales, "team1": team1, "team2": team2}


@pytest.mark.parametrize("who, expected", [
    ("admin", {"a_m1", "a_m2", "a_head", "a_pool"}),
    ("manager", {"a_m1", "a_m2", "a_head", "a_pool"}),
    ("finance", {"a_m1", "a_m2", "a_head", "a_pool"}),
    ("warehouse", {"a_m1", "a_m2", "a_head", "a_pool"}),
    ("head", {"a_m1", "a_head"}),          # their department and the one below it
    ("m1", {"a_m1", "a_pool"}),           # own + the pool
    ("m2", {"a_m2", "a_pool"}),
    ("head_m", {"a_m2", "a_pool"}),       # head of team2 and a marketer: the union
    ("staff", set()),                     # event staff are scoped by event, not here
])
def test_each_role_sees_its_rows(db, company, who, expected):
    people, rows, _ = company
    seen = set(db.session.scalars(scoped(select(Account.id), people[who], Account)))
    assert seen == {rows[name].id for name in expected}


def test_out_of_scope_row_is_not_found_not_forbidden(db, company):
    people, rows, _ = company
    assert get_scoped_or_404(Account, rows["a_m1"].id, people["m1"]) is rows["a_m1"]
    for row_id in (rows["a_m2"].id, str(rows["a_m2"].id), 999999, "abc", None):
        with pytest.raises(NotFound) as caught:
            get_scoped_or_404(Account, row_id, people["m1"])
        assert caught.value.status == 404


@pytest.mark.parametrize("who, row, full", [
    ("m1", "a_m1", True), ("m1", "a_m2", False), ("m2", "a_m1", False),
    ("head", "a_m1", True), ("head", "a_m2", False),
    ("admin", "a_m2", True), ("manager", "a_m2", True),
    ("finance", "a_m1", False), ("warehouse", "a_m1", False), ("staff", "a_m1", False),
])
def test_full_phone_only_for_owner_their_head_managers_and_admins(db, company, who, row, full):
    people, rows, _ = company
    account = rows[row]
    assert can_see_full_phone(people[who], owner_id=account.owner_id,
                              department_id=account.department_id) is full


def test_department_subtree(db, company):
    _, _, depts = company
    assert set(department_subtree_ids(depts["hq"].id)) == {d.id for d in depts.values()}
    assert set(department_subtree_ids(depts["sales"].id)) == {depts["sales"].id,
                                                             depts["team1"].id}
    assert department_subtree_ids(None) == []


def test_visible_users(db, company):
    people, _, _ = company
    def names(who):
        return {u.id for u in db.session.scalars(visible_users(people[who]))}
    everyone = {u.id for u in people.values()}
    assert everyone <= names("admin") and everyone <= names("manager")
    assert names("head") == {people["head"].id, people["m1"].id}
    assert names("m1") == {people["m1"].id}

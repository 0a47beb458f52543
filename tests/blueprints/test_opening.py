"""Opening balances over HTTP (issue 26 §1): finance downloads the template, uploads an old
points sheet with one bad row, maps its columns, reads the dry run, imports the good rows,
downloads the bad one with its error, finds the balance on the points page, and rolls back."""
import io
import re

from openpyxl import load_workbook

from models import points
from tests.conftest import page_text
from tests.factories import xlsx_sheet
from tests.factories import make_customer, make_user


def sheet(rows, headers):
    return xlsx_sheet(rows, headers)


def test_points_from_an_old_sheet_end_to_end(db, client, login):
    marketer = make_user(["marketer"])
    wang = make_customer(marketer, name="王大爷", phone="13800000001")
    login("finance")
    template = client.get("/opening/points/template.xlsx")
    assert template.status_code == 200
    assert [c.value for c in load_workbook(io.BytesIO(template.data)).active[1]] == \
        ["顾客（手机号或顾客编号）", "积分余额", "获得日期（用于计算过期）"]
    content = sheet([["138-0000-0001", 1500, "2026-01-15"], ["13900009999", 10, None]],
                    ["老会员电话", "积分", "备注"])
    response = client.post("/opening/points/upload",
                           data={"file": (io.BytesIO(content), "老系统积分.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 302 and "/columns" in response.location
    preview = client.post(response.location, data={"col_customer": "0", "col_balance": "1",
                                                   "col_earned_on": "-1"})
    assert preview.status_code == 302
    dry = page_text(client.get(preview.location))
    assert "待导入：1" in dry and "有误：1" in dry and "13900009999" in dry
    assert points.balance_of(wang.id) == 0
    refused = client.post(preview.location, data={"mode": "all"})
    assert refused.status_code == 422 and "本次没有导入任何数据" in page_text(refused)
    done = client.post(preview.location, data={"mode": "good"})
    assert done.status_code == 302 and points.balance_of(wang.id) == 1500
    page = page_text(client.get(done.location))
    assert "已导入" in page and "错误行" in page
    bad = load_workbook(io.BytesIO(client.get(done.location + "/bad.xlsx").data)).active
    rows = list(bad.iter_rows(values_only=True))
    assert rows[0][-1] == "错误原因" and rows[1][0] == "13900009999" and "13900009999" in rows[1][-1]
    login("manager")
    assert "1,500" in page_text(client.get(f"/points/customers/{wang.id}")) or \
        "1500" in page_text(client.get(f"/points/customers/{wang.id}"))
    login("finance")
    assert "老系统积分.xlsx" in page_text(client.get("/opening/"))
    rolled = client.post(done.location + "/rollback")
    assert rolled.status_code == 302 and points.balance_of(wang.id) == 0
    assert "已撤销" in page_text(client.get(done.location))


def test_a_marketer_cannot_import_opening_balances(db, client, login):
    login("marketer")
    assert client.get("/opening/").status_code == 403
    assert 'data-testid="menu-opening"' not in client.get("/").get_data(as_text=True)
    client.post("/auth/logout")
    login("finance")  # finance finds the imports in the account menu
    assert 'data-testid="menu-opening"' in client.get("/").get_data(as_text=True)


def test_an_imported_account_sets_its_own_password_before_anything_else(db, client, login):
    from models import accounts
    admin = make_user(["admin"])
    accounts.create_user(username="wangxm", display_name="王小明", password="Start2026",
                         roles=["marketer"], actor=admin, must_change_password=True)
    response = client.post("/auth/login", data={"username": "wangxm",
                                                 "password": "Start2026"})
    assert response.status_code == 302
    for path in ("/", "/customers/", "/orders/"):
        sent = client.get(path)
        assert sent.status_code == 302 and sent.location.endswith("/auth/password"), path
    assert "请先设置自己的密码再继续" in page_text(client.get("/auth/password"))
    changed = client.post("/auth/password", data={"current_password": "Start2026",
                                                  "new_password": "Mine20261",
                                                  "confirm": "Mine20261"})
    assert changed.status_code == 302, page_text(changed)[:300]
    assert client.get("/customers/").status_code == 200
    assert not accounts.find_user_by_username("wangxm").must_change_password


def test_goods_held_from_an_old_sheet_are_picked_up_at_the_counter(db, client, login, shop):
    """Finance imports 王大爷's goods held with the old company (6 boxes paid, 1 cup not) through
    the screens; the clerk finds them on his custody page, hands over all that may be collected
    (the boxes), is refused the cup, which the manager releases with a reason."""
    from sqlalchemy import select

    from models import custody
    from models.base import new_token
    login(shop.finance)
    phone = shop.customer.phone[3:]
    content = sheet([[phone, "LZ-001", 6, "是", "2025-09-20"],
                     [phone, "保温杯", 1, "否", None],
                     [phone, "XX-999", 1, "是", None]],
                    ["手机号", "商品", "数量", "是否已付", "寄存日期"])
    response = client.post("/opening/custody/upload",
                           data={"file": (io.BytesIO(content), "旧系统寄存.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 302 and "/columns" in response.location
    mapping = {"col_customer": "0", "col_product": "1", "col_quantity": "2",
               "col_is_paid": "3", "col_held_since": "4"}
    preview = client.post(response.location, data={
        **{f"col_{key}": "-1" for key in ("warehouse", "batch", "expiry", "unit_cost")},
        **mapping})
    assert preview.status_code == 302
    dry = page_text(client.get(preview.location))
    assert "待导入：2" in dry and "有误：1" in dry and "XX-999" in dry
    refused = client.post(preview.location, data={"mode": "all"})
    assert refused.status_code == 422 and "本次没有导入任何数据" in page_text(refused)
    assert custody.balances_by_product(shop.customer) == []
    done = client.post(preview.location, data={"mode": "good"})
    assert done.status_code == 302 and "已导入" in page_text(client.get(done.location))

    client.post("/auth/logout")
    login(shop.clerk)
    html = client.get(f"/custody/customers/{shop.customer.id}").get_data(as_text=True)
    text = page_text(client.get(f"/custody/customers/{shop.customer.id}"))
    assert "期初寄存 自 2025-09-20" in text and "旧系统未付款" in text
    found = page_text(client.get("/custody/", query_string={"q": shop.customer.phone[-4:]},
                                 headers={"HX-Request": "true"}))
    assert "王大爷" in found
    assert "刘芳" in page_text(client.get("/custody/report"))  # his marketer's customers hold
    boxes, cup = db.session.scalars(select(custody.OpeningHolding)
                                    .order_by(custody.OpeningHolding.id)).all()
    inputs = {name: tag for tag, name in re.findall(r'(<input[^>]* name="(opening-\d+)"[^>]*>)',
                                                    html)}
    assert set(inputs) == {f"opening-{boxes.id}", f"opening-{cup.id}"}
    assert 'data-pickable="6"' in inputs[f"opening-{boxes.id}"]
    assert "data-pickable" not in inputs[f"opening-{cup.id}"]  # not paid: 0 may be collected
    assert 'data-testid="fill-all"' in html
    # 全部可领 fills the boxes only.
    handed = client.post(f"/custody/customers/{shop.customer.id}/pickups",
                         data={"token": new_token(), f"opening-{boxes.id}": "6"})
    assert handed.status_code == 302
    assert "灵芝孢子粉" in page_text(client.get(handed.location))
    refused = client.post(f"/custody/customers/{shop.customer.id}/pickups",
                          data={"token": new_token(), f"opening-{cup.id}": "1"})
    assert refused.status_code == 409 and "旧系统中未付款" in page_text(refused)
    client.post("/auth/logout")
    login(shop.manager)
    released = client.post(f"/custody/customers/{shop.customer.id}/pickups",
                           data={"token": new_token(), f"opening-{cup.id}": "1",
                                 "release_reason": "旧店已收款"})
    assert released.status_code == 302
    assert "已无寄存" in page_text(client.get(f"/custody/customers/{shop.customer.id}"))
    assert custody.holdings(shop.customer) == []

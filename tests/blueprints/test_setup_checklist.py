"""The administrator's 开始使用 checklist on the home page: each step's state counted from the
database, a link to where it is done, the manual tick, and the list put away."""
import re

from models.settings import DEFINITIONS, get_setting
from tests.conftest import page_text
from tests.factories import (make_customer, make_department, make_event, make_product,
                             make_stocked_product, make_user, make_warehouse)


def steps_of(client):
    """{step key: (done?, the state's words)} as the home page shows them."""
    html = client.get("/").get_data(as_text=True)
    found = {}
    for chunk in html.split('data-step="')[1:]:
        key = chunk.split('"', 1)[0]
        state = chunk.split(f'data-testid="setup-state-{key}">', 1)[1].split("</span>", 1)[0]
        state = re.sub(r"<[^>]+>", "", state)
        found[key] = ('data-done="yes"' in chunk.split(">", 1)[0], " ".join(state.split()))
    return found


def test_a_fresh_company_sees_every_step_to_do_with_its_link(client, login, db):
    login("admin")
    response = client.get("/")
    text = page_text(response)
    assert "开始使用" in text and "已完成 0 / 10" in text
    steps = steps_of(client)
    assert list(steps) == ["company", "departments", "users", "warehouses", "products",
                           "opening_stock", "customers", "opening_balances", "settings",
                           "first_event"]
    assert steps["departments"] == (False, "0 个部门")
    assert steps["users"] == (False, "1 个在用账号")  # the administrator alone is not done
    assert steps["products"] == (False, "0 个商品，0 个套餐")
    assert steps["opening_balances"][1].startswith("导入 0 次，订单 0 张，积分记录 0 条，寄存记录 0 条")
    html = response.get_data(as_text=True)
    for key, path in [("company", "/admin/settings"), ("departments", "/admin/departments"),
                      ("users", "/admin/users"), ("warehouses", "/inventory/warehouses"),
                      ("products", "/inventory/products"),
                      ("opening_stock", "/opening/"),
                      ("customers", "/customers/import"),
                      ("opening_balances", "/opening/"),
                      ("settings", "/admin/settings"), ("first_event", "/events/new")]:
        assert f'href="{path}" data-testid="setup-link-{key}"' in html, key


def test_each_step_is_done_once_its_rows_exist(client, login, db):
    admin = login("admin")
    department = make_department("销售一部")
    marketer = make_user(["marketer"], department=department)
    warehouse = make_warehouse("总仓", actor=admin)
    make_product("鱼油", actor=admin)
    make_stocked_product(warehouse, 10, actor=admin)
    make_customer(marketer, name="张秀兰")
    make_customer(marketer, name="王桂英", phone="13900000002")
    make_event(admin)
    steps = steps_of(client)
    assert steps["departments"] == (True, "1 个部门")
    assert steps["users"] == (True, "2 个在用账号")
    assert steps["warehouses"] == (True, "1 个仓库")
    assert steps["products"] == (True, "2 个商品，0 个套餐")
    assert steps["opening_stock"] == (True, "1 笔入库记录")
    assert steps["customers"] == (True, "2 位顾客")
    assert steps["first_event"] == (True, "1 场会议")
    assert steps["company"][0] is False and steps["settings"][0] is False
    assert steps["opening_balances"][0] is False


def test_company_step_is_done_once_the_settings_are_saved(client, login, db):
    login("admin")
    assert steps_of(client)["company"] == (False, "会销通示范公司 · Asia/Shanghai · 尚未保存")
    data = {key.replace(".", "__"): value for key, value in (
        (key, get_setting(key)) for key in DEFINITIONS) if value is not False}
    data["general__company_name"] = "康寿会销"
    assert client.post("/admin/settings", data=data).status_code == 302
    assert steps_of(client)["company"] == (True, "康寿会销 · Asia/Shanghai")


def test_settings_reviewed_is_a_manual_tick(client, login, db):
    login("admin")
    assert steps_of(client)["settings"][0] is False
    response = client.post("/setup/settings-reviewed")
    assert response.status_code == 302 and response.location.endswith("/")
    assert "已标记为已检查" in page_text(client.get("/"))
    assert steps_of(client)["settings"][0] is True
    assert get_setting("setup.settings_reviewed") is True


def test_put_away_the_list_disappears_for_every_admin_until_shown_again(client, login, db):
    login("admin")
    client.post("/setup/hide")
    assert 'data-testid="setup-checklist"' not in client.get("/").get_data(as_text=True)
    client.post("/auth/logout")
    login("admin")  # another administrator
    assert 'data-testid="setup-checklist"' not in client.get("/").get_data(as_text=True)
    # 系统设置 → 开始使用 shows it again.
    assert get_setting("setup.checklist_hidden") is True
    assert "不再显示开始使用清单" in page_text(client.get("/admin/settings"))


def test_other_roles_never_see_the_checklist(client, login, db):
    for role in ("manager", "marketer", "finance"):
        login(role)
        assert 'data-testid="setup-checklist"' not in client.get("/").get_data(as_text=True)
        client.post("/auth/logout")

"""Each demo role signs in on a 1024×768 tablet screen and sees only its own navigation."""
import pytest

from blueprints.admin.commands import DEMO_USERS

CUSTOMERS = ["customers.index", "customers.pool", "aftersales.index", "messages.outbox",
             "events.index"]
ORDERS = ["orders.index"]
EXPECTED_NAV = {
    "admin": ["main.index", *CUSTOMERS, "checkin.index", "custody.index", "gifts.index",
              "inventory.index", "reports.index",
              "customers.lists",
              "admin.users",
              "admin.departments", "admin.settings", "admin.audit"],
    "manager": ["main.index", "tasks.today", *CUSTOMERS, "checkin.index", *ORDERS, "points.index",
                "custody.index",
                "gifts.index",
                "inventory.index", "reports.index",
                "customers.lists",
                "admin.audit"],
    "depthead": ["main.index", "tasks.today", *CUSTOMERS, *ORDERS, "points.index", "custody.index",
                 "gifts.index", "reports.index"],
    "marketer": ["main.index", "tasks.today", *CUSTOMERS, *ORDERS, "points.index", "custody.index",
                 "reports.index"],
    "marketer2": ["main.index", "tasks.today", *CUSTOMERS, *ORDERS, "points.index",
                  "custody.index", "reports.index"],
    "staff": ["main.index", "events.index", "checkin.index", "points.index", "custody.index"],
    "warehouse": ["main.index", "points.index", "custody.index", "gifts.index",
                  "inventory.index"],
    "finance": ["main.index", *ORDERS, "custody.index", "gifts.index", "inventory.index",
                "reports.index"],
}
PASSWORDS = {username: password for username, _n, _r, _d, password in DEMO_USERS}
NAMES = {username: name for username, name, _r, _d, _p in DEMO_USERS}


def sign_in(page, live_server, username):
    page.goto(f"{live_server}/auth/login")
    page.get_by_label("登录名").fill(username)
    page.get_by_label("密码").fill(PASSWORDS[username])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/")


@pytest.mark.parametrize("username", list(EXPECTED_NAV))
def test_each_role_sees_only_its_navigation(page, live_server, screenshot, username):
    sign_in(page, live_server, username)
    nav = page.locator("[data-nav]")
    assert [nav.nth(i).get_attribute("data-nav") for i in range(nav.count())] == \
        EXPECTED_NAV[username]
    assert nav.first.is_visible()  # expanded, not hidden behind a menu button, at 1024 px
    assert page.get_by_test_id("user-menu").inner_text().strip() == NAMES[username]
    # Nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot(f"home-{username}")
    # A page outside the role is refused with a Chinese 403 page.
    if "admin.users" not in EXPECTED_NAV[username]:
        response = page.goto(f"{live_server}/admin/users")
        assert response.status == 403
        assert "没有权限" in page.locator("main").inner_text()


def test_sign_in_page_touch_targets_and_error_message(page, live_server, screenshot):
    page.goto(f"{live_server}/auth/login")
    for locator in (page.get_by_label("登录名"), page.get_by_label("密码"),
                    page.get_by_role("button", name="登录")):
        assert locator.bounding_box()["height"] >= 44
    page.get_by_label("登录名").fill("admin")
    page.get_by_label("密码").fill("wrong-password1")
    page.get_by_role("button", name="登录").click()
    assert "登录名或密码错误" in page.get_by_test_id("form-errors").inner_text()
    screenshot("login-error")


def test_admin_screens_render_at_tablet_size(page, live_server, screenshot):
    sign_in(page, live_server, "admin")
    for path, name, heading in [("/admin/users", "users", "用户"),
                                ("/admin/users/new", "user-new", "新建用户"),
                                ("/admin/departments", "departments", "部门"),
                                ("/admin/settings", "settings", "系统设置"),
                                ("/admin/audit", "audit", "审计日志")]:
        page.goto(live_server + path)
        assert heading in page.locator("h1").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024, path
        screenshot(f"admin-{name}")

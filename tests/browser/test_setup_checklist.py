"""An administrator starts a new company from the 开始使用 checklist on the home page (1024×768):
sees every step still to do, follows a step's link, does it, comes back to see it done, ticks
"settings reviewed" and puts the list away."""
import pytest

from extensions import db
from tests.browser.conftest import fresh_app, serving

PASSWORD = "setup-admin-2026"


@pytest.fixture(scope="module")
def empty_company(tmp_path_factory):
    """A company with nothing but its first administrator (as `flask create-admin` leaves it)."""
    from models import accounts
    app = fresh_app(tmp_path_factory.mktemp("setup"))
    with app.app_context():
        accounts.create_user(username="boss", display_name="钱总", password=PASSWORD,
                             roles=["admin"], actor=None)
        db.session.commit()
        db.session.remove()
    with serving(app) as url:
        yield url


def test_admin_walks_the_checklist_then_puts_it_away(page, empty_company, screenshot):
    page.goto(f"{empty_company}/auth/login")
    page.get_by_label("登录名").fill("boss")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{empty_company}/")
    checklist = page.get_by_test_id("setup-checklist")
    assert "开始使用" in checklist.inner_text()
    # The migrations make the main warehouse (总仓): that step is done from the start.
    assert page.locator("[data-done=yes]").evaluate_all("els => els.map(e => e.dataset.step)") \
        == ["warehouses"]
    assert page.get_by_test_id("setup-progress").inner_text() == "已完成 1 / 10"
    departments = page.locator("[data-step=departments]")
    assert departments.get_attribute("data-done") == "no"
    assert page.get_by_test_id("setup-state-departments").inner_text() == "0 个部门"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot("setup-checklist-empty")

    page.get_by_test_id("setup-link-departments").click()
    page.wait_for_url(f"{empty_company}/admin/departments")
    page.get_by_label("部门名称").fill("销售一部")
    page.get_by_role("button", name="创建部门").click()
    assert "已创建部门" in page.locator(".alert").first.inner_text()

    page.get_by_role("link", name="会销通", exact=True).click()  # back home
    page.wait_for_url(f"{empty_company}/")
    assert departments.get_attribute("data-done") == "yes"
    assert page.get_by_test_id("setup-state-departments").inner_text() == "1 个部门"
    assert page.get_by_test_id("setup-progress").inner_text() == "已完成 2 / 10"

    page.locator("[data-step=settings]").get_by_role("button", name="标记为已检查").click()
    page.wait_for_url(f"{empty_company}/")
    assert page.locator("[data-step=settings]").get_attribute("data-done") == "yes"
    assert page.get_by_test_id("setup-progress").inner_text() == "已完成 3 / 10"
    screenshot("setup-checklist-two-done")

    page.get_by_role("button", name="收起此清单").click()
    page.wait_for_url(f"{empty_company}/")
    assert page.get_by_test_id("setup-checklist").count() == 0
    assert "开始使用清单已收起" in page.locator(".alert").first.inner_text()
    page.reload()
    assert page.get_by_test_id("setup-checklist").count() == 0
    assert page.get_by_test_id("home-cards").is_visible()

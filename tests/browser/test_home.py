"""Each role's home page on a 1024×768 tablet (#27 §3): the demo company's manager, department
head, marketer, warehouse clerk and finance clerk each see their own figures, every figure's
list a tap away (44 px), and no other role's. Screenshots: test-artifacts/home-<role>-1024.png."""
import pytest

from tests.browser.test_navigation import sign_in
from tests.browser.test_touch_targets import MEASURE, MINIMUM, TARGETS

SECTIONS = {"manager": "home-manager", "depthead": "home-manager",
            "marketer": "home-marketer", "warehouse": "home-warehouse",
            "finance": "home-finance"}
#: A list each home links to, by the text of its link.
LINKS = {"manager": ("逾期任务", "/tasks/team"), "depthead": ("近期会议", "/events/"),
         "marketer": ("今日任务", "/tasks/"), "warehouse": ("低于最低库存的商品",
                                                         "/inventory/low-stock"),
         "finance": ("超过 90 天的欠款", "/orders/arrears")}


@pytest.mark.parametrize("username", list(SECTIONS))
def test_each_roles_home(page, live_server, screenshot, username):
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, username)
    section = page.get_by_test_id(SECTIONS[username])
    section.wait_for()
    for other in set(SECTIONS.values()) - {SECTIONS[username]}:
        assert page.get_by_test_id(other).count() == 0
    if SECTIONS[username] == "home-manager":
        assert "本月已过" in page.get_by_test_id("home-pace").inner_text()
        assert page.locator("svg.trend-chart").count() == 4
        for key in ("arrivals", "deals", "sales", "collections"):
            assert page.get_by_test_id(f"home-figure-{key}").is_visible()
    if username == "marketer":
        assert "本月已过" in page.get_by_test_id("home-pace-line").inner_text()
    # Nothing overflows the tablet's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    assert page.evaluate(MEASURE, [TARGETS, MINIMUM]) == []
    screenshot(f"home-{username}-1024")
    text, path = LINKS[username]
    section.get_by_role("link", name=text, exact=True).first.click()
    page.wait_for_url(f"{live_server}{path}")

"""A marketer on a tablet finds a customer by pinyin initials, opens them, records a call."""
import re

import pytest

from tests.browser.test_navigation import sign_in


@pytest.mark.parametrize("viewport", [{"width": 1024, "height": 768},
                                      {"width": 800, "height": 1280}])
def test_marketer_finds_a_customer_by_initials_on_a_tablet(page, live_server, screenshot,
                                                            viewport):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/customers/")
    box = page.get_by_role("searchbox")
    assert box.bounding_box()["height"] >= 44
    box.fill("zxl")  # 张秀兰, typed as initials: the list updates as you type (htmx)
    page.wait_for_url(re.compile(r"q=zxl"))
    rows = page.get_by_test_id("customer-link")
    rows.first.wait_for()
    assert [rows.nth(i).inner_text() for i in range(rows.count())] == ["张秀兰"]
    assert "139****0001" in page.get_by_test_id("customers-table").inner_text()
    screenshot(f"customers-search-{viewport['width']}")
    rows.first.click()
    page.wait_for_url(re.compile(r"/customers/\d+$"))
    assert page.locator("h1").inner_text() == "张秀兰"
    page.get_by_test_id("show-phone").click()
    assert "13900000001" in page.get_by_test_id("full-phone").inner_text()
    page.get_by_label("跟进内容").fill(f"电话问候，约周六听讲座 {viewport['width']}")
    page.get_by_role("button", name="保存跟进").click()
    page.wait_for_url(re.compile(r"/customers/\d+$"))
    assert f"电话问候，约周六听讲座 {viewport['width']}" in \
        page.get_by_test_id("timeline").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    screenshot(f"customer-page-{viewport['width']}")


def test_other_marketers_customer_is_not_found(page, live_server):
    sign_in(page, live_server, "marketer2")
    page.goto(f"{live_server}/customers/?q=zxl")
    assert page.get_by_test_id("customer-link").count() == 0
    assert "没有符合条件的顾客" in page.get_by_test_id("customers-table").inner_text()

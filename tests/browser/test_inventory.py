"""The warehouse on a tablet: receive goods by scanning SKUs, count stock at the shelf."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_navigation import sign_in
from tests.factories import company_today

VIEWPORTS = [{"width": 1024, "height": 768}, {"width": 1280, "height": 800}]


def test_receiving_goods_by_scanning(page, live_server, screenshot):
    sign_in(page, live_server, "warehouse")
    page.goto(f"{live_server}/inventory/")
    assert page.get_by_test_id("stock-table").get_by_text("灵芝孢子粉").count() >= 1
    screenshot("inventory-stock")
    page.get_by_role("link", name="入库", exact=True).click()
    sku = page.locator("input[name='lines-0-sku']")
    sku.fill("LZ-001")
    sku.press("Enter")  # a scanner ends with Enter: it moves on, it does not submit
    quantity = page.locator("input[name='lines-0-quantity']")
    assert quantity.evaluate("el => el === document.activeElement")
    quantity.fill("12")
    page.locator("input[name='lines-0-batch_number']").fill("20261120")
    page.locator("input[name='lines-0-produced_on']").fill("2026-11-20")
    page.locator("input[name='supplier']").fill("康源生物科技")
    for _ in range(6):  # six rows are there; a seventh comes from the button
        page.get_by_role("button", name="加一行").click()
    assert page.locator("input[name='lines-6-sku']").count() == 1
    page.locator("input[name='lines-6-sku']").fill("GF-201")
    page.locator("input[name='lines-6-quantity']").fill("30")
    screenshot("inventory-receipt-form")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(r"/inventory/documents/\d+$"))
    facts = page.get_by_test_id("moves-table").inner_text()
    assert "灵芝孢子粉" in facts and "养生保温杯" in facts and "20261120" in facts
    screenshot("inventory-receipt")
    slip = page.request.get(live_server + page.get_by_test_id("print-slip").get_attribute("href"))
    assert slip.headers["content-type"] == "application/pdf" and slip.body()[:4] == b"%PDF"


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=["1024x768", "1280x800"])
def test_counting_at_the_shelf(page, live_server, screenshot, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, "warehouse")
    page.goto(f"{live_server}/inventory/counts")
    open_count = page.get_by_test_id("counts-table").get_by_text("盘点中")
    if open_count.count():  # the other viewport's run left its count open: cancel it
        page.get_by_test_id("counts-table").locator("a").first.click()
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="作废盘点单").click()
        page.goto(f"{live_server}/inventory/counts")
    page.get_by_role("button", name="开始盘点").click()
    page.wait_for_url(re.compile(r"/inventory/counts/\d+$"))
    search = page.get_by_test_id("count-search")
    search.fill("lzbzf")  # pinyin initials of 灵芝孢子粉
    # Locator assertions, not wait_for_function: its string predicate is an eval the CSP refuses.
    lines = page.get_by_test_id("count-line")
    expect(lines.filter(has_not_text="灵芝孢子粉")).to_have_count(0)
    expect(lines.first).to_contain_text("灵芝孢子粉")
    line = page.get_by_test_id("count-line").first
    book = int(re.search(r"(\d+) 盒", line.inner_text())[1])
    line.locator("input[name=counted]").fill(str(book - 2))
    line.get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("line-difference").first).to_have_text("-2")
    assert "-2" in page.get_by_test_id("count-line").first.inner_text()
    search.fill("不存在的商品")
    page.get_by_test_id("count-refused").wait_for()
    assert "不在本仓库的商品不能在这里盘点" in page.get_by_test_id("count-refused").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    screenshot(f"inventory-count-{viewport['width']}")


def test_a_nearly_expired_batch_is_received_after_ticking_the_confirmation(page, live_server,
                                                                            screenshot):
    """Tapped as a clerk does: the receipt of a batch expiring in ten days is refused with the
    box to tick; ticked and saved again, the document says it was confirmed."""
    from datetime import timedelta
    sign_in(page, live_server, "warehouse")
    page.goto(f"{live_server}/inventory/documents/new/receipt")
    page.locator("input[name='lines-0-sku']").fill("LZ-001")
    page.locator("input[name='lines-0-quantity']").fill("3")
    page.locator("input[name='lines-0-batch_number']").fill("SHORT-10")
    page.locator("input[name='lines-0-expiry_date']").fill(
        (company_today() + timedelta(days=10)).isoformat())
    page.get_by_role("button", name="保存").click()
    box = page.get_by_test_id("short-dated")
    box.wait_for()
    assert "请勾选确认" in page.locator("body").inner_text()
    screenshot("inventory-receipt-short-dated")
    box.get_by_label("确认入库过期或临期批次").check()
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(r"/inventory/documents/\d+$"))
    assert "经二次确认入库" in page.get_by_test_id("short-dated").inner_text()

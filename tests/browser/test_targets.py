"""Targets on a tablet, by taps (#27 §1): the manager opens 报表 → 目标, sets 销售一部's money
collected for the month, the head shares it among the department's marketers, and each row shows
its target and the month's pace. At 1024×768; screenshots of both pages are saved."""
import re

from tests.browser.test_navigation import sign_in


def test_a_manager_sets_a_department_target_and_the_head_shares_it(page, live_server, live_app,
                                                                   screenshot):
    sign_in(page, live_server, "manager")
    page.goto(f"{live_server}/reports/")
    page.get_by_test_id("targets-card").click()
    row = page.get_by_test_id(re.compile(r"^department-\d+$")).filter(has_text="销售一部")
    row.get_by_test_id("edit-department").click()
    page.get_by_label("回款").fill("30000")
    page.get_by_label("邀约人数").fill("90")
    page.get_by_test_id("save-targets").click()
    page.get_by_text("目标已保存").wait_for()
    row = page.get_by_test_id(re.compile(r"^department-\d+$")).filter(has_text="销售一部")
    assert "目标 ¥30,000.00" in row.inner_text()
    screenshot("targets-departments-1024")
    page.context.clear_cookies()  # signed out

    sign_in(page, live_server, "depthead")
    page.goto(f"{live_server}/reports/targets")
    page.get_by_test_id("spread-targets").click()
    page.get_by_text("部门目标已平均分配").wait_for()
    rows = page.get_by_test_id(re.compile(r"^marketer-\d+$"))
    assert rows.count() >= 1
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert all("目标 ¥" in text for text in texts), texts
    assert all("本月已过" in text for text in texts), texts
    for button in page.get_by_test_id("edit-marketer").all() + \
            [page.get_by_test_id("spread-targets"), page.get_by_test_id("copy-targets")]:
        assert button.bounding_box()["height"] >= 44
    screenshot("targets-department-1024")

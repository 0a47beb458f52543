"""A marketer imports a file above the background threshold (set low here): after the columns
the page becomes a progress bar that refreshes itself while the worker runs (started a moment
later, as the scheduler would), reaches done, leads to the dry run, and the import goes the same
way."""
import io
import re
import threading

import pytest
from openpyxl import Workbook

from extensions import db
from jobs import background as worker
from models.accounts import User
from models.settings import update_settings
from tests.browser.conftest import fresh_app, serving
from tests.browser.test_navigation import sign_in


@pytest.fixture
def own_company(tmp_path):
    """The demo company on a database of its own (the import adds customers the other browser
    tests do not expect), with the background threshold at 3 rows; (app, url)."""
    from blueprints.admin.commands import load_demo_data
    app = fresh_app(tmp_path)
    with app.app_context():
        load_demo_data(echo=lambda *a: None)
        admin = db.session.scalar(db.select(User).where(User.username == "admin"))
        update_settings({"imports.background_rows": 3}, actor=admin)
        db.session.commit()
        db.session.remove()
    with serving(app) as url:
        yield app, url


def work_soon(app):
    """The scheduler's worker, a moment after the page queued the run."""
    timer = threading.Timer(1.5, worker.work, args=(app,))
    timer.start()
    return timer


def test_a_large_import_shows_its_progress_and_reaches_done(page, own_company, screenshot):
    live_app, live_server = own_company
    page.set_viewport_size({"width": 1024, "height": 768})
    workbook = Workbook()
    workbook.active.append(["姓名", "手机号"])
    for i in range(8):
        workbook.active.append([f"后台{i}", f"1370000{i:04d}"])
    content = io.BytesIO()
    workbook.save(content)
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/customers/import")
    page.locator("input[type=file]").set_input_files(
        {"name": "老客户.xlsx", "mimeType": "application/octet-stream",
         "buffer": content.getvalue()})
    page.get_by_role("button", name="上传并继续").click()
    page.wait_for_url(re.compile(r"/map$"))
    timer = work_soon(live_app)
    page.get_by_role("button", name="检查数据（试运行）").click()
    page.wait_for_url(re.compile(r"/runs/"))
    progress = page.get_by_test_id("run-progress")
    assert "0 / 8 行" in progress.inner_text()
    screenshot("background-run-queued")
    page.locator("[data-testid=run-progress][data-state=done]").wait_for(timeout=15000)
    timer.join()
    assert "8 / 8 行" in page.get_by_test_id("run-rows").inner_text()
    screenshot("background-run-done")
    page.get_by_test_id("run-outcome").click()
    assert "新建：8" in page.get_by_test_id("import-counts").inner_text()
    timer = work_soon(live_app)
    page.get_by_role("button", name="导入 8 位顾客").click()
    page.wait_for_url(re.compile(r"/runs/"))
    page.locator("[data-testid=run-progress][data-state=done]").wait_for(timeout=15000)
    timer.join()
    page.get_by_test_id("run-outcome").click()
    assert "8" in page.get_by_test_id("import-result").inner_text()
    page.goto(f"{live_server}/customers/imports")
    assert "老客户.xlsx" in page.get_by_test_id("import-records").inner_text()
    screenshot("background-import-records")

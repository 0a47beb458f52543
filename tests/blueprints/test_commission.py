"""Commission and the 考核表 over HTTP (#27 §2): finance computes and approves a month, a second
approval and a recompute of the locked month are refused with nothing written, a month in the
future is refused; each marketer sees their own lines, a head their department's, another's is
a 404; a manager sets the rules (a rate above 100 % refused); the assessment on screen links
every figure to its rows, and its PDF and .xlsx read back."""
import io

from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from extensions import db as _db
from formatting import local_day
from models import commission as cm, targets as tg
from models.base import utcnow
from models.tasks import Task, write_tasks
from tests.conftest import page_text
from tests.models.test_commission import M3, moment, pay, refund, sale, shop  # noqa: F401


def runs():
    return _db.session.scalar(select(func.count()).select_from(cm.CommissionRun))


def test_finance_computes_and_approves_a_month_and_it_is_locked(db, client, login, shop):
    s = shop
    tg.set_targets("marketer", s["a"], "month", M3, {"collections": 100000},
                   actor=s["manager"])
    order = sale(s, s["a"], health=2)
    pay(s, order, 150000, moment(M3, 5))
    refund(s, order, 20000, moment(M3, 6))
    month = cm.month_label(M3)
    login(s["finance"])
    page = page_text(client.get(f"/reports/commission?month={month}"))
    assert "未计算" in page and "尚未计算" in page
    done = client.post("/reports/commission/compute", data={"month": month})
    assert done.status_code == 302 and f"month={month}" in done.location
    page = page_text(client.get(done.location))
    # ¥1,500 of a ¥1,000 target: ×1.2; 3 % × 1.2 of ¥1,500 = ¥54, of −¥200 = −¥7.20
    assert "的提成已计算" in page and "×1.20" in page and "¥54.00" in page and "-¥7.20" in page
    assert "草稿" in page and "退货只列出货值" in page
    approved = client.post("/reports/commission/approve", data={"month": month})
    page = page_text(client.get(approved.location))
    assert "已审批并锁定" in page and "已锁定" in page
    run = cm.run_of(M3)
    assert run.is_locked and run.total == 5400 - 720
    # approving again, recomputing: refused in Chinese, nothing written
    again = page_text(client.get(client.post("/reports/commission/approve",
                                             data={"month": month}).location))
    assert "已审批锁定，不能再次审批" in again
    recompute = page_text(client.get(client.post("/reports/commission/compute",
                                                 data={"month": month}).location))
    assert "已审批锁定，不能重新计算" in recompute and "下月" in recompute
    assert cm.run_of(M3).computed_at == run.computed_at and runs() == 1
    # a month in the future, a month that is not one
    future = cm.month_label(cm.next_month(local_day(utcnow()).replace(day=1)))
    answer = page_text(client.get(client.post("/reports/commission/compute",
                                              data={"month": future}).location))
    assert "未来的月份不能计算提成" in answer and runs() == 1
    answer = page_text(client.get(client.post("/reports/commission/compute",
                                              data={"month": "2026-13"}).location))
    assert "不是有效的月份" in answer and runs() == 1
    assert client.get("/reports/commission?month=abc", follow_redirects=True).status_code == 200


def test_a_stale_draft_is_shown_and_its_approval_refused(db, client, login, shop):
    s = shop
    order = sale(s, s["a"], health=2)
    pay(s, order, 50000, moment(M3, 5))
    month = cm.month_label(M3)
    login(s["finance"])
    client.post("/reports/commission/compute", data={"month": month})
    pay(s, order, 50000, moment(M3, 7))  # recorded now: after the draft
    page = page_text(client.get(f"/reports/commission?month={month}"))
    assert "又录入了 1 笔收款" in page
    answer = page_text(client.get(client.post("/reports/commission/approve",
                                              data={"month": month}).location))
    assert "请重新计算后再审批" in answer and not cm.run_of(M3).is_locked


def test_each_sees_their_own_lines_and_a_head_their_department(db, client, login, shop):
    s = shop
    pay(s, sale(s, s["a"], name="甲顾客"), 100000, moment(M3, 5))
    pay(s, sale(s, s["other"], name="乙顾客"), 100000, moment(M3, 5))
    cm.compute_run(M3, actor=s["finance"], now=moment(cm.next_month(M3), 2))
    month = cm.month_label(M3)
    login(s["a"])
    page = page_text(client.get(f"/reports/commission?month={month}"))
    assert "刘芳" in page and "王强" not in page
    lines = page_text(client.get(f"/reports/commission/lines?month={month}"))
    assert "甲顾客" in lines and "¥30.00" in lines
    assert client.get(f"/reports/commission/lines?month={month}&marketer={s['other'].id}") \
        .status_code == 404
    client.post("/auth/logout")
    login(s["head"])
    page = page_text(client.get(f"/reports/commission?month={month}"))
    assert "刘芳" in page and "赵敏" in page and "王强" not in page
    assert client.get(f"/reports/commission/lines?month={month}&marketer={s['a'].id}") \
        .status_code == 200
    out = client.get(f"/reports/commission/lines?month={month}&marketer={s['other'].id}")
    assert out.status_code == 404 and "不在您的查看范围内" in page_text(out)
    assert client.post("/reports/commission/compute", data={"month": month}).status_code == 403
    client.post("/auth/logout")
    login(s["manager"])
    assert client.post("/reports/commission/approve", data={"month": month}).status_code == 403


def test_a_manager_sets_the_rules_and_a_bad_rate_is_refused(db, client, login, shop):
    s = shop
    login(s["manager"])
    form = page_text(client.get("/reports/commission/rules"))
    assert "保健品" in form and "器械" in form
    category = s["health"].category_id
    base = {"default_rate": "3", "tiers": "0:80, 80:100, 120:120", "developer_rate": "1",
            "developer_months": "12", "bonus_yuan": "20", "deduction_yuan": "10"}
    refused = client.post("/reports/commission/rules",
                          data={**base, f"category_{category}": "100.5"})
    assert refused.status_code == 422
    assert "保健品：提成比例不能高于 100 %" in page_text(refused)
    refused = client.post("/reports/commission/rules", data={**base, "default_rate": "-1"})
    assert refused.status_code == 422 and "不能低于 0 %" in page_text(refused)
    refused = client.post("/reports/commission/rules",
                          data={**base, f"category_{category}": "3.333"})
    assert refused.status_code == 422 and "最多两位小数" in page_text(refused)
    refused = client.post("/reports/commission/rules", data={**base, "tiers": "80"})
    assert refused.status_code == 422 and "完成率:系数" in page_text(refused)
    assert cm.rate_table() == {}
    saved = client.post("/reports/commission/rules",
                        data={**base, "default_rate": "2.5", f"category_{category}": "5"})
    assert saved.status_code == 302
    assert cm.rate_table() == {("category", category): 500}
    assert cm.current_rules()["default_bp"] == 250
    assert "提成规则已保存" in page_text(client.get(saved.location))


def test_the_assessment_links_its_figures_and_prints(db, client, login, shop):
    """刘芳 in M3: ¥1,150 collected of a ¥1,000 target (15 points above: 15 × ¥20 = ¥300), one
    callback overdue (−¥10), commission ¥1,150 × 3 % × 1.0 = ¥34.50 (115 % is below the 120 %
    tier): total ¥324.50."""
    s = shop
    tg.set_targets("marketer", s["a"], "month", M3, {"collections": 100000, "contacts": 5},
                   actor=s["manager"])
    customer = sale(s, s["a"], health=2).customer
    order = sale(s, s["a"], health=2, customer=customer)
    pay(s, order, 115000, moment(M3, 5))
    write_tasks([{"kind": "callback", "customer_id": customer.id, "assignee_id": s["a"].id,
                  "department_id": s["one"].id, "due_date": M3.replace(day=12),
                  "title": "回访"}])
    cm.compute_run(M3, actor=s["finance"], now=moment(cm.next_month(M3), 2))
    month = cm.month_label(M3)
    login(s["head"])
    response = client.get(f"/reports/assessment?month={month}")
    page = response.get_data(as_text=True)
    row = page[page.index(f'data-testid="marketer-{s["a"].id}"'):]
    row = row[:row.index("</tr>")]
    assert "¥1,150.00" in row and "115 %" in row and "¥34.50" in row and "¥300.00" in row
    assert "-¥10.00" in row and "¥324.50" in row and "15 个百分点" in page_text(response)
    assert "/reports/rows/collections" in row and "/reports/rows/callbacks_overdue" in row and \
        "/reports/commission/lines" in row
    assert "王强" not in page_text(response)
    pdf = client.get(f"/reports/assessment.pdf?month={month}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "考核表" in text and "刘芳" in text and "¥324.50" in text and "王强" not in text
    sheet = client.get(f"/reports/assessment.xlsx?month={month}")
    rows = list(load_workbook(io.BytesIO(sheet.data), read_only=True).active.values)
    header = rows[0]
    liu = next(r for r in rows if r[1] == "刘芳")
    assert liu[header.index("回款 · 实际")] == 1150 and liu[header.index("回款 · 目标")] == 1000
    assert liu[header.index("提成")] == 34.5 and liu[header.index("合计")] == 324.5
    assert _db.session.scalar(select(func.count()).select_from(Task)) == 1


def test_eight_clicks_at_once_compute_one_run_and_approve_it_once(app, committed_db):
    """Eight finance clerks press 计算 for a new month at once, then 审批 at once: one run, one
    approval, one audit entry each time it was written; every press gets a page, never a 5xx
    (on SQLite the writers queue, on PostgreSQL the run's unique month and row lock decide)."""
    from models.audit import AuditEntry
    from tests.blueprints.test_races import signed_in
    from tests.factories import make_user
    from tests.races import race
    finance = [make_user(["finance"], display_name=f"财务{n}") for n in range(8)]
    committed_db.session.commit()
    month = cm.month_label(M3)
    clients = [signed_in(app, user) for user in finance]
    answers = []

    def press(action):
        def post(i):
            response = clients[i].post(f"/reports/commission/{action}", data={"month": month})
            answers.append(response.status_code)
            response.close()
        return post
    for action in ("compute", "approve"):
        assert race(press(action), range(8)) == []
    assert sorted(set(answers)) == [302]
    committed_db.session.rollback()  # a fresh read of what the clients wrote
    assert committed_db.session.scalar(select(func.count()).select_from(cm.CommissionRun)) == 1
    assert cm.run_of(M3).is_locked
    assert committed_db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "commission.approve")) == 1

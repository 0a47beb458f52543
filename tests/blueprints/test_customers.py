"""The customer screens over HTTP: search, scoping by URL, masking, follow-ups, ownership, the
pool, export permission."""
import io
import re

from openpyxl import load_workbook
from sqlalchemy import func, select

from formatting import local_day
from models import customers as c
from models.base import utcnow
from models.audit import AuditEntry
from models.settings import update_settings
from tests.conftest import page_text
from tests.factories import make_customer, make_department, make_user


def rows_text(response):
    text = page_text(response)
    return text[text.index("位顾客"):] if "位顾客" in text else text


def test_search_box_answers_each_form_and_masks_phones(db, client, login):
    me = login("marketer")
    make_customer(me, name="张三", phone="13800138000")
    make_customer(me, name="李四", phone="13912345678")
    for query, expected, absent in [("8000", "张三", "李四"), ("zs", "张三", "李四"),
                                    ("zhangsan", "张三", "李四"), ("李", "李四", "张三"),
                                    ("13912345678", "李四", "张三")]:
        response = client.get(f"/customers/?q={query}", headers={"HX-Request": "true"})
        assert response.status_code == 200
        text = rows_text(response)
        assert expected in text and absent not in text, query
    text = page_text(client.get("/customers/"))
    assert "138****8000" in text and "13800138000" not in text


def test_marketer_cannot_reach_another_marketers_customer_by_url(db, client, login):
    other = make_user(["marketer"])
    theirs = make_customer(other, name="别人的顾客")
    login("marketer")
    for method, path in [("GET", f"/customers/{theirs.id}"),
                         ("GET", f"/customers/{theirs.id}/edit"),
                         ("POST", f"/customers/{theirs.id}/contacts"),
                         ("POST", f"/customers/{theirs.id}/phone")]:
        response = client.open(path, method=method, data={"kind": "call", "content": "x"})
        assert response.status_code == 404, path
        assert "别人的顾客" not in page_text(response)
    assert "别人的顾客" not in page_text(client.get("/customers/?q=bie"))


def test_register_customer_and_duplicate_phone(db, client, login):
    me = login("marketer")
    response = client.post("/customers/new", data={
        "name": "王秀英", "phone": "13800001111", "gender": "F", "birthday_kind": "lunar",
        "lunar_month": "8", "lunar_day": "15", "grade": "B"})
    assert response.status_code == 302
    customer = db.session.scalar(select(c.Customer).where(c.Customer.name == "王秀英"))
    assert customer.owner is me and customer.name_initials == "wxy"
    assert "已登记顾客" in page_text(client.get(response.location))
    again = client.post("/customers/new", data={"name": "王秀", "phone": "138-0000-1111"})
    assert again.status_code == 409
    assert "该手机号已属于顾客 王秀英" in page_text(again)
    assert f'href="/customers/{customer.id}"' in again.get_data(as_text=True)
    # Another marketer learns the number is taken, not whose customer it is.
    other = make_user(["marketer"])
    client.post("/auth/logout")
    login(other)
    response = client.post("/customers/new", data={"name": "王", "phone": "13800001111"})
    assert response.status_code == 409
    text = page_text(response)
    assert "其他业务员的顾客" in text and "王秀英" not in text


def test_bad_customer_form_input_gets_chinese_messages(db, client, login):
    login("marketer")
    cases = [({"name": "甲", "phone": "12345"}, "不是有效的手机号"),
             ({"name": "甲", "phone": "13800002222", "birthday_kind": "solar",
               "birthday": "2999-01-01"}, "不能是将来"),
             ({"name": "甲", "phone": "13800002222", "birthday_kind": "lunar",
               "lunar_month": "1", "lunar_day": "30", "birth_year": "2023"}, "只有 29 天"),
             ({"name": "", "phone": "13800002222"}, "请输入顾客姓名"),
             ({"name": "甲" * 41, "phone": "13800002222"}, "40"),
             ({"name": "甲", "phone": "13800002222", "lunar_month": "13",
               "birthday_kind": "lunar", "lunar_day": "1"}, "12")]
    for data, message in cases:
        response = client.post("/customers/new", data=data)
        assert response.status_code in (409, 422), data
        assert message in page_text(response), (message, page_text(response)[:300])
    assert db.session.scalar(select(func.count(c.Customer.id))) == 0


def test_show_number_is_audited_and_contact_goes_on_the_timeline(db, client, login):
    me = login("marketer")
    customer = make_customer(me, name="周大爷", phone="13800003333")
    page = page_text(client.get(f"/customers/{customer.id}"))
    assert "138****3333" in page and "13800003333" not in page
    response = client.post(f"/customers/{customer.id}/phone", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "13800003333" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "customer.show_phone", AuditEntry.target_id == customer.id)) == 1
    response = client.post(f"/customers/{customer.id}/contacts", data={
        "kind": "call", "content": "提醒周六来听讲座", "outcome": "答应来"})
    assert response.status_code == 302
    timeline = page_text(client.get(f"/customers/{customer.id}"))
    assert "提醒周六来听讲座" in timeline and "登记为顾客" in timeline
    response = client.post(f"/customers/{customer.id}/contacts", data={"kind": "call",
                                                                      "content": ""})
    assert response.status_code == 422 and "请写下跟进内容" in page_text(response)


def test_pool_claim_over_http_with_limit_message(db, client, login):
    admin = make_user(["admin"])
    update_settings({"customers.claims_per_day": 1}, actor=admin)
    manager = make_user(["manager"])
    pooled = [make_customer(name=f"公海{i}") for i in range(2)]
    c.release_to_pool([x.id for x in pooled], actor=manager, reason="整理")
    me = login("marketer")
    listing = page_text(client.get("/customers/pool"))
    assert "公海0" in listing and "今日已领取 0 / 1" in listing
    response = client.post(f"/customers/{pooled[0].id}/claim")
    assert response.status_code == 302 and pooled[0].owner is me
    response = client.post(f"/customers/{pooled[1].id}/claim")
    assert "每日上限" in page_text(client.get(response.location))
    assert pooled[1].status == "pool"


def test_dept_head_bulk_transfer_and_release(db, client, login):
    dept = make_department("销售一部")
    head = make_user(["dept_head"], department=dept)
    a, b = make_user(["marketer"], department=dept), make_user(["marketer"], department=dept)
    customers = [make_customer(a, name=f"顾客{i}") for i in range(3)]
    login(head)
    response = client.post("/customers/bulk", data={
        "ids": [str(customers[0].id), str(customers[1].id)], "action": "transfer",
        "to_owner_id": str(b.id), "reason": "调整"})
    assert response.status_code == 302
    assert customers[0].owner is b and customers[1].owner is b and customers[2].owner is a
    assert "已转移 2 位顾客" in page_text(client.get(response.location))
    response = client.post("/customers/bulk", data={
        "ids": [str(customers[2].id)], "action": "release", "reason": ""})
    assert "请填写放入公海的原因" in page_text(client.get(response.location))
    assert customers[2].status == "active"


def test_handover_of_a_leaving_marketers_book(db, client, login):
    leaving, heir = make_user(["marketer"]), make_user(["marketer"])
    for i in range(4):
        make_customer(leaving, name=f"老顾客{i}")
    login("manager")
    response = client.post("/customers/handover", data={
        "from_owner_id": str(leaving.id), "to_owner_id": str(heir.id), "reason": "离职交接"})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count(c.Customer.id)).where(
        c.Customer.owner_id == heir.id)) == 4


def test_export_is_a_permission_audited_and_formula_safe(db, client, login):
    owner = make_user(["marketer"])
    make_customer(owner, name="=HYPERLINK(\"http://x\")", phone="13800004444")
    login(owner)
    assert client.post("/customers/export.xlsx").status_code == 403
    client.post("/auth/logout")
    login("manager")
    assert client.get("/customers/export.xlsx").status_code == 405  # never a write on GET
    response = client.post("/customers/export.xlsx", data={"q": ""})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.values)
    assert rows[0][:4] == ("编号", "姓名", "性别", "手机号")
    assert rows[1][1].startswith("'=") and rows[1][3] == "13800004444"
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "customer.export")) == 1


def test_edit_keeps_owner_and_records_a_manual_grade(db, client, login):
    me = login("marketer")
    customer = make_customer(me, name="赵大妈", phone="13800005555")
    page = client.get(f"/customers/{customer.id}/edit")
    assert page.status_code == 200 and 'value="13800005555"' in page.get_data(as_text=True)
    response = client.post(f"/customers/{customer.id}/edit", data={
        "name": "赵大妈", "phone": "13800005555", "grade": "A", "do_not_call": "y"})
    assert response.status_code == 302
    assert customer.grade == "A" and customer.grade_is_manual and customer.do_not_call
    assert customer.owner is me
    assert "请勿给该顾客打电话" in page_text(client.get(f"/customers/{customer.id}"))


def test_phone_masking_per_role(db, client, login):
    dept = make_department("销售一部")
    owner = make_user(["marketer"], department=dept)
    customer = make_customer(owner, phone="13800006666")
    for roles, may_show in [(["dept_head"], True), (["manager"], True), (["admin"], True)]:
        login(make_user(roles, department=dept))
        page = client.get(f"/customers/{customer.id}").get_data(as_text=True)
        assert "138****6666" in page and "13800006666" not in page
        assert ('data-testid="show-phone"' in page) is may_show, roles
        client.post("/auth/logout")
    login(make_user(["finance"]))
    assert client.get(f"/customers/{customer.id}").status_code == 403


def test_managed_lists_of_channels_and_tags(db, client, login):
    login("manager")
    response = client.post("/customers/lists", data={"kind": "tag", "name": "心脑血管"})
    assert response.status_code == 302
    tag = db.session.scalar(select(c.Tag).where(c.Tag.name == "心脑血管"))
    assert tag.is_active
    again = client.post("/customers/lists", data={"kind": "tag", "name": "心脑血管"})
    assert again.status_code == 422 and "已在列表中" in page_text(again)
    client.post(f"/customers/lists/tag/{tag.id}/toggle")
    assert not tag.is_active
    assert client.post("/customers/lists/nope/1/toggle").status_code == 404


def test_registered_today_with_a_birthday_tomorrow_the_care_task_is_on_the_list(db, client,
                                                                                login):
    """Issue 26 §3: a birthday inside the care lead gets its task at registration, and the page
    says the grade typed in is kept."""
    from datetime import timedelta

    from formatting import local_day
    from models.base import utcnow
    from models.tasks import Task
    login("marketer")
    tomorrow = local_day(utcnow()) + timedelta(days=1)
    response = client.post("/customers/new", data={
        "name": "明天过生日", "phone": "13800002222", "birthday_kind": "solar",
        "birthday": tomorrow.replace(year=1950).isoformat() if (tomorrow.month, tomorrow.day)
        != (2, 29) else "1952-02-29", "grade": "A"})
    assert response.status_code == 302
    customer = db.session.scalar(select(c.Customer).where(c.Customer.name == "明天过生日"))
    task = db.session.scalar(select(Task).where(Task.customer_id == customer.id))
    assert task.kind == "birthday" and task.due_date == local_day(utcnow())
    assert "等级为手工设定" in page_text(client.get(response.location))


def test_notes_apart_from_health_notes_and_an_estimated_year_shown_as_about(db, client, login):
    me = login("marketer")
    customer = make_customer(me, name="孙大妈", phone="13800007777", health_notes="高血压",
                             notes="老会员，住幸福里", birth_year=1951, birth_year_estimated=True)
    page = page_text(client.get(f"/customers/{customer.id}"))
    this_year = local_day(utcnow()).year
    assert f"年龄 约 {this_year - 1951}" in page  # counted from a year that is a guess
    assert "健康备注 高血压" in page and "备注 老会员，住幸福里" in page
    # The form keeps both; unticking the estimate says the year is now the real one.
    form = client.get(f"/customers/{customer.id}/edit").get_data(as_text=True)
    assert "老会员，住幸福里" in form and 'id="birth_year_estimated"' in form
    response = client.post(f"/customers/{customer.id}/edit", data={
        "name": "孙大妈", "phone": "13800007777", "birth_year": "1950",
        "notes": "老会员，住幸福里三号楼", "health_notes": "高血压"})
    assert response.status_code == 302
    assert customer.notes == "老会员，住幸福里三号楼" and customer.health_notes == "高血压"
    assert (customer.birth_year, customer.birth_year_estimated) == (1950, False)
    assert f"年龄 {this_year - 1950}" in page_text(client.get(f"/customers/{customer.id}"))


def test_a_long_list_counts_only_so_far_and_says_more(db, client, login, monkeypatch):
    """The list counts its rows up to ten pages past the one shown (two million customers are
    not counted on every page view): beyond, it says 超过 …, and Next goes on; near the end
    the count is exact again."""
    import blueprints.customers.routes as routes
    import blueprints.forms as forms
    monkeypatch.setattr(routes, "PER_PAGE", 2)
    monkeypatch.setattr(forms, "COUNT_AT_MOST", 5)
    me = login("marketer")
    for n in range(30):
        make_customer(me, name=f"顾客{n:02d}")
    first = page_text(client.get("/customers/"))
    assert "超过 22 位顾客" in first and "顾客29" in first  # newest first
    assert 'page=2">' in client.get("/customers/").get_data(as_text=True)  # Next
    near_end = page_text(client.get("/customers/?page=12"))
    assert "共 30 位顾客" in near_end and "超过" not in near_end
    last = page_text(client.get("/customers/?page=15"))
    assert "顾客00" in last and "顾客01" in last


def test_a_search_finding_few_or_many_lists_the_same_newest_first(db, client, login,
                                                                  monkeypatch):
    """A search that finds few customers is sorted from their ids, one that finds many as the
    list is (models.customers.reads._few_found_first): the same rows in the same order, within
    the marketer's scope either way."""
    from models.customers import reads
    me, other = login("marketer"), make_user(["marketer"])
    for n in range(5):
        make_customer(me, name=f"王{n}")
    make_customer(other, name="王其他")
    answers = []
    for few in (100, 2):  # 6 found by the name: few, then many
        monkeypatch.setattr(reads, "FEW_FOUND", few)
        text = rows_text(client.get("/customers/?q=王", headers={"HX-Request": "true"}))
        answers.append([name for name in ("王4", "王3", "王2", "王1", "王0") if name in text])
        assert "王其他" not in text
        assert [text.index(name) for name in answers[-1]] == \
            sorted(text.index(name) for name in answers[-1])
    assert answers[0] == answers[1] == ["王4", "王3", "王2", "王1", "王0"]


def test_a_list_page_reads_its_rows_by_their_ids_alone_in_the_lists_order(
        db, client, login, monkeypatch):
    """The page's ids are found with the list's conditions (scope, search, filters); its rows
    are then read by those ids alone (blueprints.forms.paginate) — the conditions repeated
    beside them made PostgreSQL read again every customer they match (#29). The page keeps
    the list's order and the marketer's scope, on every page."""
    from sqlalchemy import event

    import blueprints.customers.routes as routes
    from extensions import db as the_db
    monkeypatch.setattr(routes, "PER_PAGE", 3)
    me, other = login("marketer"), make_user(["marketer"])
    for name in ("顾客甲", "顾客乙", "顾客丙", "顾客丁", "顾客戊"):
        make_customer(me, name=name)
    make_customer(other, name="顾客己")
    rows = []

    def seen(conn, cursor, statement, *args):
        if statement.startswith("SELECT customers.id, customers.name,"):
            rows.append(statement)
    event.listen(the_db.engine, "before_cursor_execute", seen)
    try:
        pages = [rows_text(client.get(f"/customers/?q={q}&page={n}",
                                      headers={"HX-Request": "true"}))
                 for q in ("顾客", "") for n in (1, 2)]
    finally:
        event.remove(the_db.engine, "before_cursor_execute", seen)
    for first, second in (pages[:2], pages[2:]):  # a search, then the whole list: newest first
        assert [n for n in ("顾客戊", "顾客丁", "顾客丙") if n in first] == \
            ["顾客戊", "顾客丁", "顾客丙"]
        assert first.index("顾客戊") < first.index("顾客丁") < first.index("顾客丙")
        assert "顾客乙" in second and "顾客甲" in second and "顾客丙" not in second
        assert second.index("顾客乙") < second.index("顾客甲")
        assert "顾客己" not in first + second
    assert len(rows) == 4
    for statement in rows:  # by id alone: no search, scope or order repeated there
        where = statement.split("WHERE", 1)[1]
        assert "customers.id IN" in where and "name" not in where and "owner_id" not in where
        assert "ORDER BY" not in where


def test_a_search_that_found_few_is_not_counted_again(db, client, login, monkeypatch):
    """The ids a search found are its count (#29: counting them again cost as much as the
    page at two million customers); a search that found many is counted as any list."""
    from sqlalchemy import event

    from extensions import db as the_db
    from models.customers import reads
    me = login("marketer")
    for n in range(5):
        make_customer(me, name=f"王{n}")
    counts = []

    def seen(conn, cursor, statement, *args):
        if "count(*)" in statement and "customers" in statement:
            counts.append(statement)
    event.listen(the_db.engine, "before_cursor_execute", seen)
    try:
        for few, counted in ((100, 0), (2, 1)):
            monkeypatch.setattr(reads, "FEW_FOUND", few)
            counts.clear()
            assert "共 5 位顾客" in page_text(client.get("/customers/?q=王"))
            assert len(counts) == counted
    finally:
        event.remove(the_db.engine, "before_cursor_execute", seen)


def test_the_search_box_keeps_a_department_filter_and_refuses_an_unknown_one(db, client,
                                                                             login):
    """Typed into the box (htmx: the rows only), a department asked for still filters, and one
    that does not exist is ignored as an invalid choice, not answered with a 500."""
    login("manager")
    north, south = make_department("北区"), make_department("南区")
    make_customer(make_user(["marketer"], department=north), name="王北")
    make_customer(make_user(["marketer"], department=south), name="王南")
    hx = {"HX-Request": "true"}
    text = rows_text(client.get(f"/customers/?q=王&department_id={north.id}", headers=hx))
    assert "王北" in text and "王南" not in text
    unknown = client.get("/customers/?q=王&department_id=999999", headers=hx)
    assert unknown.status_code == 200
    assert "王北" in rows_text(unknown) and "王南" in rows_text(unknown)
    both = rows_text(client.get("/customers/?q=王", headers=hx))
    assert "王北" in both and "王南" in both


def test_the_search_box_answers_the_rows_without_the_form_for_ticked_rows(db, client, login,
                                                                          monkeypatch):
    """Typed into the box (htmx), the answer is the rows and where the ticked rows' form returns
    to, not that form again: its list of every marketer (2,000 in a large company) was drawn on
    every keystroke. The page itself carries the form once; the pool's box answers rows too."""
    login("manager")
    owner, other = make_user(["marketer"], display_name="甲"), make_user(["marketer"])
    make_customer(owner, name="王一")
    make_customer(other, name="王二")
    hx = {"HX-Request": "true"}
    with monkeypatch.context() as patched:  # the marketers are not even read
        patched.setattr(c, "active_marketer_names", None)
        rows = client.get("/customers/?q=王", headers=hx).get_data(as_text=True)
    assert "王一" in rows and "王二" in rows
    assert 'id="list-form"' not in rows and "<option" not in rows
    assert re.search(r'<input type="hidden" name="back" value="/customers/\?q=[^"]+" '
                     r'form="list-form">', rows)
    mine = client.get(f"/customers/?q=王&owner_id={owner.id}", headers=hx)
    assert "王一" in rows_text(mine) and "王二" not in rows_text(mine)
    unknown = client.get("/customers/?q=王&owner_id=999999", headers=hx)
    assert unknown.status_code == 200 and "王二" in rows_text(unknown)
    whole = client.get("/customers/?q=王").get_data(as_text=True)
    assert whole.count('id="list-form"') == 1 and f'value="{other.id}"' in whole
    pool = client.get("/customers/pool?q=王", headers=hx).get_data(as_text=True)
    assert "<html" not in pool and 'data-testid="customers-table"' in pool


def test_the_customer_page_lists_the_ten_newest_orders(db, client, login):
    """The page's orders card lists the newest ten (the timeline and the orders screen have the
    rest): a customer of many orders does not read them all with their lines to show ten."""
    from datetime import timedelta

    from tests.factories import make_order, make_stocked_product, make_warehouse
    owner = make_user(["marketer"])
    customer = make_customer(owner, name="老主顾")
    warehouse = make_warehouse()
    product = make_stocked_product(warehouse)
    orders = [make_order(customer, warehouse=warehouse,
                         lines=[{"product": product, "quantity": 1}]) for _n in range(12)]
    for days, order in enumerate(reversed(orders)):  # the last made is the newest
        order.created_at = utcnow() - timedelta(days=days)
    db.session.commit()
    login(owner)
    html = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    card = html[html.index('data-testid="customer-orders"'):
                html.index('data-testid="customer-figures"')]
    assert re.findall(r">(XS[\d-]+)<", card) == [order.number for order in reversed(orders[2:])]

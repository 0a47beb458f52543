"""Import from .xlsx: upload, column mapping, dry run row by row, confirm all or nothing."""
import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from models import customer_import as imports, customers as c
from models.base import InvalidInput
from models.settings import update_settings
from reports.xlsx import write_workbook
from tests.conftest import page_text
from tests.factories import make_customer, make_user


def xlsx(rows, headers=("姓名", "手机号", "性别", "标签", "生日", "农历生日")):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def count(db):
    return db.session.scalar(select(func.count(c.Customer.id)))


@pytest.fixture
def marketer(db):
    db.session.add(c.Tag(name="高血压"))
    return make_user(["marketer"])


def test_dry_run_shows_each_row_then_confirm_creates_them(db, marketer):
    existing = make_customer(marketer, name="老顾客", phone="13800000009")
    content = xlsx([("张秀兰", "13800000001", "女", "高血压", "1950-03-08", None),
                    ("李建国", "138 0000 0002", "男", None, None, "闰2-15"),
                    ("老顾客二", "13800000009", None, None, None, None),
                    ("重复行", "13800000001", None, None, None, None)])
    batch = imports.upload("名单.xlsx", content, actor=marketer)
    assert batch.mapping == {"name": 0, "phone": 1, "gender": 2, "tags": 3, "birthday": 4,
                             "lunar_birthday": 5}
    results = imports.dry_run(batch, actor=marketer)
    assert [r.status for r in results] == ["create", "create", "duplicate", "duplicate"]
    assert results[2].existing_id == existing.id and "老顾客" in results[2].message
    assert "第 2 行" in results[3].message
    assert count(db) == 1  # a dry run writes nothing
    counts = imports.confirm(batch, actor=marketer)
    assert (counts["create"], counts["duplicate"], counts["invalid"]) == (2, 2, 0)
    assert len(counts["ids"]) == 2  # the customers made, for their care tasks
    zhang = c.find_by_phone("13800000001")
    assert zhang.gender == "F" and [t.name for t in zhang.tags] == ["高血压"]
    assert zhang.birthday.isoformat() == "1950-03-08" and zhang.owner is marketer
    li = c.find_by_phone("13800000002")
    assert (li.lunar_month, li.lunar_day, li.lunar_leap) == (2, 15, True)
    assert count(db) == 3 and batch.status == "done" and batch.content == b""


def test_invalid_rows_are_explained_and_block_the_import(db, marketer):
    content = xlsx([("好人", "13800000001", None, None, None, None),
                    ("坏号码", "12345", None, None, None, None),
                    ("", "13800000003", None, None, None, None),
                    ("未来人", "13800000004", None, None, "2999-01-01", None),
                    ("坏性别", "13800000005", "未知", None, None, None),
                    ("坏标签", "13800000006", None, "不存在的标签", None, None),
                    ("坏农历", "13800000007", None, None, None, "13-1")])
    batch = imports.upload("x.xlsx", content, actor=marketer)
    results = imports.dry_run(batch, actor=marketer)
    assert [r.status for r in results] == ["create"] + ["invalid"] * 6
    messages = [r.message for r in results[1:]]
    for expected, message in zip(["不是有效的手机号", "请输入顾客姓名", "不能是将来", "性别只能填",
                                  "未知的标签", "1–12"], messages):
        assert expected in message
    with pytest.raises(InvalidInput, match="有 6 行数据有误"):
        imports.confirm(batch, actor=marketer)
    assert count(db) == 0


def test_a_failure_during_confirm_undoes_the_whole_import(db, marketer, monkeypatch):
    content = xlsx([(f"顾客{i}", f"1380000000{i}", None, None, None, None) for i in range(1, 6)])
    batch = imports.upload("x.xlsx", content, actor=marketer)
    real_create, calls = c.create_customer, []

    def fails_on_the_fourth(data, **kwargs):
        calls.append(data.name)
        if len(calls) == 4:
            raise InvalidInput("模拟的故障")
        return real_create(data, **kwargs)
    monkeypatch.setattr(c, "create_customer", fails_on_the_fourth)
    savepoint = db.session.begin_nested()
    with pytest.raises(InvalidInput, match="第 5 行"):
        imports.confirm(batch, actor=marketer)
    savepoint.rollback()  # what the route does: roll the transaction back
    assert count(db) == 0 and len(calls) == 4


@pytest.mark.parametrize("content, message", [
    (b"PK\x03\x04 not really a zip", "不是 .xlsx 表格"),
    ("姓名,手机号\n张三,13800000001\n".encode(), "不是 .xlsx 表格"),
    (xlsx([], headers=("姓名", "手机号")), "没有数据行"),
])
def test_unreadable_files_are_refused(db, marketer, content, message):
    with pytest.raises(InvalidInput, match=message):
        imports.upload("x.xlsx", content, actor=marketer)


def test_row_limit_is_a_setting(db, marketer):
    update_settings({"customers.import_max_rows": 3}, actor=make_user(["admin"]))
    content = xlsx([(f"顾客{i}", f"1380000000{i}", None, None, None, None) for i in range(1, 6)])
    with pytest.raises(InvalidInput, match="超过 3 行"):
        imports.upload("x.xlsx", content, actor=marketer)


def test_wrong_headers_need_a_mapping_and_it_is_checked(db, marketer):
    content = xlsx([("张三", "13800000001")], headers=("客户", "联系方式"))
    batch = imports.upload("x.xlsx", content, actor=marketer)
    assert batch.mapping == {}
    with pytest.raises(InvalidInput, match="请先对应好各列"):
        imports.dry_run(batch, actor=marketer)
    with pytest.raises(InvalidInput, match="手机号"):
        imports.set_mapping(batch, {"name": 0})
    with pytest.raises(InvalidInput, match="同一列"):
        imports.set_mapping(batch, {"name": 0, "phone": 0})
    imports.set_mapping(batch, {"name": 0, "phone": 1})
    assert [r.status for r in imports.dry_run(batch, actor=marketer)] == ["create"]


def test_template_round_trips_through_the_importer(db, marketer):
    content = write_workbook(*imports.template_sheet())
    sheet = load_workbook(io.BytesIO(content)).active
    assert [cell.value for cell in sheet[1]][:2] == ["姓名", "手机"]
    c.ensure_default_channels()
    db.session.add(c.Tag(name="老会员"))
    batch = imports.upload("template.xlsx", content, actor=marketer)
    results = imports.dry_run(batch, actor=marketer)
    assert [r.status for r in results] == ["create"], results[0].message


def test_import_screens_end_to_end(db, client, login, marketer):
    login(marketer)
    content = xlsx([("张秀兰", "13800000001", "女", None, None, None)])
    response = client.post("/customers/import", data={"file": (io.BytesIO(content), "a.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 302 and "/map" in response.location
    preview = client.post(response.location, data={"col_name": "0", "col_phone": "1",
                                                   "col_gender": "2"})
    assert preview.status_code == 302
    dry = page_text(client.get(preview.location))
    assert "试运行" in dry and "新建：1" in dry and count(db) == 0
    done = client.post(preview.location)
    assert done.status_code == 302 and count(db) == 1
    assert "新建 1 位顾客" in page_text(client.get(done.location))
    # Someone else cannot open this import by its address.
    client.post("/auth/logout")
    login("marketer")
    assert client.get(preview.location).status_code == 404


def test_upload_screen_refuses_other_files_and_huge_uploads(db, client, login, app,
                                                          monkeypatch):
    login("marketer")
    response = client.post("/customers/import", data={
        "file": (io.BytesIO(b"a,b\n1,2\n"), "list.csv")}, content_type="multipart/form-data")
    assert response.status_code == 422 and "只能导入 .xlsx" in page_text(response)
    response = client.post("/customers/import", data={
        "file": (io.BytesIO(b"not a zip"), "renamed.xlsx")}, content_type="multipart/form-data")
    assert response.status_code == 422 and "不是 .xlsx 表格" in page_text(response)
    # The limit is MAX_CONTENT_LENGTH (20 MB by default, so a 50 MB file is refused); a small
    # limit here keeps the test's request in memory.
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    big = io.BytesIO(b"0" * 5000)
    response = client.post("/customers/import", data={"file": (big, "big.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 413 and "文件过大" in page_text(response)


def test_dry_run_does_not_name_another_marketers_customer(db, marketer):
    other = make_user(["marketer"])
    make_customer(other, name="别人的秘密顾客", phone="13800000007")
    batch = imports.upload("x.xlsx", xlsx([("某人", "13800000007", None, None, None, None)]),
                           actor=marketer)
    result = imports.dry_run(batch, actor=marketer)[0]
    assert result.status == "duplicate" and "别人的秘密顾客" not in result.message
    assert result.existing_id is None and "其他业务员" in result.message


def test_a_marketer_imports_only_for_themself(db, marketer):
    other = make_user(["marketer"], username="other")
    content = xlsx([("某人", "13800000008", "other")], headers=("姓名", "手机号", "业务员"))
    batch = imports.upload("x.xlsx", content, actor=marketer)
    result = imports.dry_run(batch, actor=marketer)[0]
    assert result.status == "invalid" and "未知的业务员" in result.message
    assert other is not None

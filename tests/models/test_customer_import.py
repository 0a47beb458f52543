"""Import from .xlsx: upload, column mapping, dry run row by row, confirm all or nothing."""
import io
from datetime import date, datetime, timezone

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from formatting import local_day
from models import customer_import as imports, customers as c
from models.customers import operations
from models.base import InvalidInput, utcnow
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
    real_change, calls = operations.creation_change_row, []

    def fails_on_the_fourth(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 4:
            raise InvalidInput("模拟的故障")
        return real_change(*args, **kwargs)
    # Two customers a statement: the first two are written when the fourth fails.
    monkeypatch.setattr(operations, "BULK_CHUNK", 2)
    monkeypatch.setattr(operations, "creation_change_row", fails_on_the_fourth)
    savepoint = db.session.begin_nested()
    with pytest.raises(InvalidInput, match="模拟的故障本次未导入任何数据"):
        imports.confirm(batch, actor=marketer)
    savepoint.rollback()  # what the route does: roll the transaction back
    assert count(db) == 0 and len(calls) == 4


def test_an_import_writes_what_registering_by_hand_writes(db, marketer):
    """The bulk write of an import and create_customer make the same rows: the customer's
    columns, its name parts (found by the middle of the name), its tags, a manual grade, and
    the "create" ownership change."""
    tag = db.session.scalar(select(c.Tag).where(c.Tag.name == "高血压"))
    now = utcnow()
    by_hand = c.create_customer(c.CustomerData(
        name="张秀兰", phone="13800000001", gender="F", grade="B", district="朝阳区",
        birthday_kind="solar", birthday=date(1952, 3, 8), tag_ids=(tag.id,)),
        actor=marketer, now=now, quiet=True)
    book = Workbook()
    book.active.append(["姓名", "手机号", "性别", "等级", "区域", "生日", "标签"])
    book.active.append(["张秀兰", "13800000002", "女", "b", "朝阳区", "1952-03-08", "高血压"])
    out = io.BytesIO()
    book.save(out)
    batch = imports.upload("x.xlsx", out.getvalue(), actor=marketer)
    [new_id] = imports.confirm(batch, actor=marketer, now=now)["ids"]
    db.session.expire_all()
    imported = db.session.get(c.Customer, new_id)
    skip = {"id", "phone", "phone_reversed"}
    assert {k: v for k, v in vars(imported).items() if not k.startswith("_") and k not in skip} \
        == {k: v for k, v in vars(db.session.get(c.Customer, by_hand.id)).items()
            if not k.startswith("_") and k not in skip}
    assert imported.grade == "B" and imported.grade_is_manual
    assert imported.name_pinyin == "zhangxiulan" and imported.name_initials == "zxl"
    assert imported.phone_reversed == "20000000831"
    assert sorted(p.part for p in imported.name_parts) == ["兰", "秀兰"]
    assert [t.name for t in imported.tags] == ["高血压"]
    changes = db.session.scalars(select(c.OwnershipChange).where(
        c.OwnershipChange.customer_id.in_([by_hand.id, new_id]))).all()
    assert [(x.kind, x.from_owner_id, x.to_owner_id, x.actor_id, x.reason) for x in changes] \
        == [("create", None, marketer.id, marketer.id, "")] * 2


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


# --- What old spreadsheets really contain (issue 26 §2) ----------------------------------------

QUIRK_HEADERS = ("姓名", "手机号", "备用电话", "生日", "农历生日", "出生年份", "年龄", "备注",
                 "健康备注")


def one_row(db, marketer, **cells):
    """The dry run of a sheet of one row (cells by header; name and mobile filled in)."""
    cells = {"姓名": "张秀兰", "手机号": "13800000001", **cells}
    content = xlsx([[cells.get(h) for h in QUIRK_HEADERS]], headers=QUIRK_HEADERS)
    batch = imports.upload("老表格.xlsx", content, actor=marketer)
    return imports.dry_run(batch, actor=marketer, now=NOW)[0]


#: The import's day: 7 December 2026 in Shanghai.
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("cells, expected, note", [
    # Lunar birthdays in words, in the lunar column or the birthday column.
    ({"农历生日": "腊月初八"}, {"birthday_kind": "lunar", "lunar": (12, 8, False)}, ""),
    ({"农历生日": "农历三月初八"}, {"lunar": (3, 8, False)}, ""),
    ({"农历生日": "闰四月初五"}, {"lunar": (4, 5, True)}, ""),
    ({"农历生日": "正月十五"}, {"lunar": (1, 15, False)}, ""),
    ({"农历生日": "冬月廿三"}, {"lunar": (11, 23, False)}, ""),
    ({"农历生日": "十月三十"}, {"lunar": (10, 30, False)}, ""),
    ({"生日": "农历三月初八"}, {"birthday_kind": "lunar", "lunar": (3, 8, False)}, ""),
    ({"农历生日": "1950年三月初八"}, {"lunar": (3, 8, False), "birth_year": 1950}, ""),
    ({"农历生日": datetime(2024, 3, 8)}, {"lunar": (3, 8, False), "birth_year": None}, ""),
    # Solar dates in every form, and Excel's day number.
    ({"生日": "1950.3.8"}, {"birthday_kind": "solar", "birthday": date(1950, 3, 8)}, ""),
    ({"生日": "1950/3/8"}, {"birthday": date(1950, 3, 8)}, ""),
    ({"生日": "1950-03-08"}, {"birthday": date(1950, 3, 8)}, ""),
    ({"生日": "19500308"}, {"birthday": date(1950, 3, 8)}, ""),
    ({"生日": 19500308}, {"birthday": date(1950, 3, 8)}, ""),
    ({"生日": "50-3-8"}, {"birthday": date(1950, 3, 8), "birth_year": 1950}, ""),
    ({"生日": "1950年3月8日"}, {"birthday": date(1950, 3, 8)}, ""),
    ({"生日": 18330}, {"birthday": date(1950, 3, 8)}, ""),
    ({"生日": datetime(1950, 3, 8)}, {"birthday": date(1950, 3, 8)}, ""),
    # Ages instead of years: counted back from the import day, flagged as estimated.
    ({"年龄": "75岁"}, {"birth_year": 1951, "birth_year_estimated": True}, "按年龄 75 岁推算"),
    ({"年龄": 75}, {"birth_year": 1951, "birth_year_estimated": True}, "约 1951 年"),
    ({"出生年份": "75岁"}, {"birth_year": 1951, "birth_year_estimated": True}, "约 1951 年"),
    ({"生日": "75岁"}, {"birth_year": 1951, "birth_year_estimated": True}, "约 1951 年"),
    ({"出生年份": 1950}, {"birth_year": 1950, "birth_year_estimated": False}, ""),
    ({"农历生日": "腊月初八", "年龄": "七十五岁"},
     {"lunar": (12, 8, False), "birth_year": 1951, "birth_year_estimated": True}, "约 1951"),
    ({"生日": "1950-03-08", "年龄": 60},
     {"birth_year": 1950, "birth_year_estimated": False}, "对不上：以出生年份为准"),
    # Phones: spaces, dashes, +86 / 0086, two in a cell, a landline beside a mobile.
    ({"手机号": "138 0000 0001"}, {"phone": "13800000001"}, ""),
    ({"手机号": "138-0000-0001"}, {"phone": "13800000001"}, ""),
    ({"手机号": "+86 138 0000 0001"}, {"phone": "13800000001"}, ""),
    ({"手机号": "0086 13800000001"}, {"phone": "13800000001"}, ""),
    ({"手机号": 13800000001}, {"phone": "13800000001"}, ""),
    ({"手机号": "13800000001/13900000002"},
     {"phone": "13800000001", "phone2": "13900000002"}, "13900000002 存为备用电话"),
    ({"手机号": "13800000001，13900000002"}, {"phone2": "13900000002"}, "存为备用电话"),
    ({"手机号": "13800000001、13900000002"}, {"phone2": "13900000002"}, "存为备用电话"),
    ({"手机号": "13800000001 13900000002"}, {"phone2": "13900000002"}, "存为备用电话"),
    ({"手机号": "13800000001或13900000002"}, {"phone2": "13900000002"}, "存为备用电话"),
    ({"手机号": "010-65123456 / 13800000001"},
     {"phone": "13800000001", "phone2": "", "notes": "其他电话：010-65123456"},
     "其他号码记在备注里：010-65123456"),
    ({"手机号": "13800000001", "备用电话": "13900000002 13700000003"},
     {"phone2": "13900000002", "notes": "其他电话：13700000003"}, "记在备注里"),
    # Names with a form of address: kept as typed, flagged.
    ({"姓名": "张阿姨"}, {"name": "张阿姨"}, "姓名含称呼（阿姨），按原样保存"),
    ({"姓名": "王老师"}, {"name": "王老师"}, "称呼（老师）"),
    ({"姓名": "李大爷"}, {"name": "李大爷"}, "称呼（大爷）"),
    ({"姓名": "赵叔"}, {"name": "赵叔"}, "称呼（叔）"),
    ({"姓名": "刘奶奶"}, {"name": "刘奶奶"}, "称呼（奶奶）"),
    ({"姓名": "张  三"}, {"name": "张三"}, ""),
    # 备注 is the general notes; 健康备注 the health notes.
    ({"备注": "老会员，爱跳广场舞", "健康备注": "高血压"},
     {"notes": "老会员，爱跳广场舞", "health_notes": "高血压"}, ""),
    # Both birthdays: both kept, the care list follows the lunar one.
    ({"生日": "1950-03-08", "农历生日": "正月二十"},
     {"birthday_kind": "lunar", "birthday": date(1950, 3, 8), "lunar": (1, 20, False),
      "birth_year": 1950}, "两个都保存，生日关怀按农历（农历正月二十）"),
])
def test_each_quirk_of_an_old_spreadsheet_is_read(db, marketer, cells, expected, note):
    result = one_row(db, marketer, **cells)
    assert result.status == "create", result.message
    data = result.data
    got = {"name": data.name, "phone": data.phone, "phone2": data.phone2, "notes": data.notes,
           "health_notes": data.health_notes, "birthday_kind": data.birthday_kind,
           "birthday": data.birthday, "birth_year": data.birth_year,
           "birth_year_estimated": data.birth_year_estimated,
           "lunar": (data.lunar_month, data.lunar_day, data.lunar_leap)}
    assert {key: got[key] for key in expected} == expected
    notes = " ".join(result.notes)
    assert note in notes if note else not notes, notes


@pytest.mark.parametrize("cells, message", [
    ({"农历生日": "腊八"}, "腊八 不是农历月日（请写成 三月初八、腊月初八、闰四月初五 或 3-8）"),
    ({"农历生日": "三月三十一"}, "农历日子只能是 1–30"),
    ({"生日": "1950-2-30"}, "1950-2-30 不是日期"),
    ({"生日": "明年春天"}, "明年春天 不是日期"),
    ({"年龄": "二百岁"}, "二百岁 不是年龄"),
    ({"出生年份": "五十年代"}, "五十年代 不是出生年份"),
    ({"手机号": "010-65123456"}, "里没有手机号：只有座机不行"),
    ({"手机号": "138 0000 000"}, "不是有效的手机号"),
    ({"手机号": "无"}, "请输入手机号"),
    ({"农历生日": "闰三月初一", "出生年份": 2023}, "没有闰 3 月"),
])
def test_a_cell_that_cannot_be_read_makes_its_row_invalid_with_the_reason(db, marketer, cells,
                                                                        message):
    result = one_row(db, marketer, **cells)
    assert result.status == "invalid" and message in result.message, result.message


def test_a_formula_is_refused_by_row_and_column_never_calculated(db, marketer):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "区号", "号码", "手机号", "备注"])
    sheet.append(["张秀兰", "138", "00000001", "13800000001", "老会员"])
    sheet.append(["李建国", "138", "00000002", "=B3&C3", "=1+1"])
    sheet.append(["王芳", "138", "00000003", "13800000003", "=A2"])
    sheet["E4"].data_type = "s"  # text typed as '=A2: not a formula
    buffer = io.BytesIO()
    workbook.save(buffer)
    batch = imports.upload("公式.xlsx", buffer.getvalue(), actor=marketer)
    assert batch.mapping == {"name": 0, "phone": 3, "notes": 4}
    first, second, third = imports.dry_run(batch, actor=marketer)
    assert first.status == "create" and third.status == "create"
    assert third.data.notes == "=A2"
    assert (second.number, second.status) == (3, "invalid")
    assert second.message.startswith("D 列（手机号）是公式（=B3&C3）：导入时不计算公式")
    with pytest.raises(InvalidInput, match="有 1 行数据有误"):
        imports.confirm(batch, actor=marketer)
    assert count(db) == 0


def test_three_bad_rows_among_many_are_named_one_by_one(db, marketer):
    rows = [(f"顾客{i}", f"138{i:08d}", None, None, None, None) for i in range(1, 301)]
    rows[41] = ("坏号码", "138 0000", None, None, None, None)  # row 43
    rows[150] = ("坏生日", "13900000151", None, None, "1950-13-01", None)  # row 152
    rows[299] = ("坏农历", "13900000300", None, None, None, "腊月四十")  # row 301
    batch = imports.upload("三百行.xlsx", xlsx(rows), actor=marketer)
    results = imports.dry_run(batch, actor=marketer)
    bad = [(r.number, r.message) for r in results if r.status == "invalid"]
    assert [number for number, _message in bad] == [43, 152, 301]
    assert "不是有效的手机号" in bad[0][1] and "1950-13-01 不是日期" in bad[1][1]
    assert "腊月四十：农历日子只能是 1–30" in bad[2][1]
    assert imports.summarise(results) == {"create": 297, "duplicate": 0, "invalid": 3,
                                          "noted": 0}
    with pytest.raises(InvalidInput, match="有 3 行数据有误"):
        imports.confirm(batch, actor=marketer)
    assert count(db) == 0


def test_an_old_xls_file_is_refused_with_what_to_do(db, marketer):
    ole2 = imports.OLE2_MAGIC + b"\0" * 504  # what Excel 97–2003 writes first
    with pytest.raises(InvalidInput, match="旧版 Excel 文件（.xls）.*另存为 .xlsx"):
        imports.upload("客户.xlsx", ole2, actor=marketer)


def test_an_old_spreadsheet_with_every_quirk_through_the_screens(db, client, login, marketer):
    """Upload → map → dry run → confirm with a sheet as companies keep them: headers of their
    own, a numbering column of formulas nobody maps, and every quirk of §2 in its rows."""
    login(marketer)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["序号", "客户姓名", "联系电话", "出生日期", "农历生日", "岁数", "备注",
                  "身体状况"])
    sheet.append(["=ROW()-1", "张阿姨", "138 0000 0001", "1950.3.8", "腊月初八", None,
                  "老会员", "高血压"])
    sheet.append(["=ROW()-1", "王老师", "+86 139-0000-0002 / 13700000002", 18330, None, None,
                  None, None])
    sheet.append(["=ROW()-1", "李大爷", "0086 13600000003，010-65123456", None, "闰四月初五",
                  "75岁", "爱跳广场舞", None])
    sheet.append(["=ROW()-1", "刘  芳", "13500000004", "50-3-8", None, None, None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = client.post("/customers/import", data={
        "file": (io.BytesIO(buffer.getvalue()), "老客户名单.xlsx")},
        content_type="multipart/form-data")
    assert response.status_code == 302 and "/map" in response.location
    batch = db.session.scalar(select(imports.ImportBatch))
    # Their headers are recognised (备注 as the notes, 身体状况 as the health notes); 序号 is not.
    assert batch.mapping == {"name": 1, "phone": 2, "birthday": 3, "lunar_birthday": 4,
                             "age": 5, "notes": 6, "health_notes": 7}
    preview = client.post(response.location, data={
        "col_name": "1", "col_phone": "2", "col_birthday": "3", "col_lunar_birthday": "4",
        "col_age": "5", "col_notes": "6", "col_health_notes": "7"})
    assert preview.status_code == 302
    dry = page_text(client.get(preview.location))
    this_year = local_day(utcnow()).year
    assert "新建：4" in dry and "有误：0" in dry and "请留意：3" in dry and count(db) == 0
    for note in ["姓名含称呼（阿姨），按原样保存",
                 "公历、农历生日都有：两个都保存，生日关怀按农历（农历腊月初八）",
                 "一格里有两个手机号：13700000002 存为备用电话",
                 "其他号码记在备注里：010-65123456",
                 f"按年龄 75 岁推算出生年份：约 {this_year - 75} 年"]:
        assert note in dry, note
    done = client.post(preview.location)
    assert done.status_code == 302 and count(db) == 4
    assert "新建 4 位顾客" in page_text(client.get(done.location))

    zhang = c.find_by_phone("13800000001")
    assert (zhang.name, zhang.birthday_kind, zhang.birthday) == ("张阿姨", "lunar",
                                                                date(1950, 3, 8))
    assert (zhang.lunar_month, zhang.lunar_day, zhang.lunar_leap) == (12, 8, False)
    assert (zhang.notes, zhang.health_notes) == ("老会员", "高血压")
    wang = c.find_by_phone("13900000002")
    assert (wang.name, wang.phone2, wang.birthday) == ("王老师", "+8613700000002",
                                                       date(1950, 3, 8))
    li = c.find_by_phone("13600000003")
    assert (li.birthday_kind, li.lunar_month, li.lunar_day, li.lunar_leap) == ("lunar", 4, 5,
                                                                               True)
    assert (li.birth_year, li.birth_year_estimated) == (this_year - 75, True)
    assert li.notes == "爱跳广场舞\n其他电话：010-65123456" and li.phone2 == ""
    liu = c.find_by_phone("13500000004")
    assert (liu.name, liu.birthday) == ("刘芳", date(1950, 3, 8))
    # The customer pages say it: 约 for the estimated age, both birthdays, the notes.
    page = page_text(client.get(f"/customers/{li.id}"))
    assert "年龄 约 75" in page and "爱跳广场舞 其他电话：010-65123456" in page
    page = page_text(client.get(f"/customers/{zhang.id}"))
    assert "农历 12月8日（公历 1950-03-08） 生日关怀按农历生日。" in page


def test_a_file_is_checked_and_written_a_chunk_at_a_time_and_still_all_or_nothing(
        db, marketer, monkeypatch):
    """Two rows a chunk here (1,000 in use): a mobile repeated across chunks, or already a
    customer's, is a duplicate as in one chunk; an invalid row in the last chunk leaves nothing
    written by the chunks before it; once corrected, every chunk's customers are made."""
    monkeypatch.setattr(imports, "CHUNK", 2)
    existing = make_customer(marketer, name="老顾客", phone="13800000009")
    rows = [("甲", "13800000001"), ("乙", "13800000002"), ("丙", "13800000009"),
            ("丁", "13800000001"), ("戊", "13800000005"), ("坏号码", "12345")]
    batch = imports.upload("分块.xlsx", xlsx(rows, headers=("姓名", "手机号")), actor=marketer)
    results = imports.dry_run(batch, actor=marketer)
    assert [r.status for r in results] == ["create", "create", "duplicate", "duplicate",
                                           "create", "invalid"]
    assert results[2].existing_id == existing.id and "第 2 行" in results[3].message
    with pytest.raises(InvalidInput, match="有 1 行数据有误"):
        imports.confirm(batch, actor=marketer)
    assert count(db) == 1 and batch.status == "uploaded"  # the first chunks: undone
    rows[-1] = ("己", "13800000006")
    batch = imports.upload("分块.xlsx", xlsx(rows, headers=("姓名", "手机号")), actor=marketer)
    counts = imports.confirm(batch, actor=marketer)
    assert (counts["create"], counts["duplicate"], len(counts["ids"])) == (4, 2, 4)
    assert [c.find_by_phone(f"1380000000{n}").name for n in (1, 2, 5, 6)] == \
        ["甲", "乙", "戊", "己"]
    assert count(db) == 5

"""Large imports and exports over HTTP (issue 26 §1), with the threshold set low: the dry run
and the import of a file above it are queued, the page goes to the progress page, `jobs work`
works them, and the progress page leads to the result; 导入记录 lists them; a dead run shows as
stopped and starts again; a large export is downloaded from its run. Below the threshold the
pages work as before (their own tests)."""
import io
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import func, select

from jobs import background as worker
from models import background, customers as c, points
from models.settings import update_settings
from tests.conftest import page_text
from tests.factories import xlsx_sheet
from tests.factories import make_customer, make_user


def sheet(rows, headers):
    return xlsx_sheet(rows, headers)


def low_threshold(rows=3):
    update_settings({"imports.background_rows": rows}, actor=make_user(["admin"]))


def test_a_large_customer_import_runs_in_the_background(app, db, client, login):
    low_threshold()
    marketer = login("marketer")
    content = sheet([[f"顾客{i}", f"1380000{i:04d}"] for i in range(5)] + [["坏行", "123"]],
                    ["姓名", "手机号"])
    upload = client.post("/customers/import", data={"file": (io.BytesIO(content), "大.xlsx")},
                         content_type="multipart/form-data")
    mapped = client.post(upload.location, data={"col_name": "0", "col_phone": "1"})
    assert mapped.status_code == 302 and "/runs/" in mapped.location
    page = page_text(client.get(mapped.location))
    assert "顾客导入：检查" in page and "等待开始" in page and "0 / 6 行" in page
    partial = client.get(mapped.location, headers={"HX-Request": "true"})
    assert 'hx-trigger="every 2s"' in partial.get_data(as_text=True)
    preview_url = upload.location.replace("/map", "")
    # Leaving and coming back: the import's page sends the clerk to the run.
    assert client.get(preview_url).location.endswith(mapped.location)
    assert worker.work(app) == 1
    done = client.get(mapped.location)
    text = page_text(done)
    assert "已完成" in text and "6 / 6 行" in text and "目前有误 1 行" in text
    assert 'hx-trigger' not in done.get_data(as_text=True)  # no more polling
    dry = page_text(client.get(preview_url))
    assert "新建：5" in dry and "有误：1" in dry and "在后台检查完毕" in dry and "坏行" in dry
    assert "导入 5 位顾客" not in dry  # a bad row: no import button (all or nothing)
    # An import posted all the same (an old tab) fails with the reason, nothing written, and
    # can be started again.
    queued = client.post(preview_url)
    assert "/runs/" in queued.location
    worker.work(app)
    failed = page_text(client.get(queued.location))
    assert "失败" in failed and "本次未导入任何数据" in failed and "重新开始" in failed
    assert db.session.scalar(select(func.count()).select_from(c.Customer)) == 0
    records = page_text(client.get("/customers/imports"))
    assert "大.xlsx" in records and "顾客导入 · 失败" in records
    assert marketer


def test_a_large_import_confirmed_and_shown_under_import_records(app, db, client, login):
    low_threshold()
    login("marketer")
    content = sheet([[f"顾客{i}", f"1380000{i:04d}"] for i in range(5)], ["姓名", "手机号"])
    upload = client.post("/customers/import", data={"file": (io.BytesIO(content), "好.xlsx")},
                         content_type="multipart/form-data")
    run_page = client.post(upload.location, data={"col_name": "0", "col_phone": "1"}).location
    worker.work(app)
    preview_url = upload.location.replace("/map", "")
    assert "导入 5 位顾客" in page_text(client.get(preview_url))
    confirm = client.post(preview_url)
    assert "/runs/" in confirm.location and confirm.location != run_page
    assert "顾客导入" in page_text(client.get(confirm.location))
    worker.work(app)
    done = client.get(confirm.location)
    assert "已完成" in page_text(done) and "查看结果" in page_text(done)
    result = page_text(client.get(preview_url))
    assert "新建 5 位" in result or "5 位顾客" in result
    assert db.session.scalar(select(func.count()).select_from(c.Customer)) == 5
    assert "已导入：新建 5 位，已存在 0 位" in page_text(client.get("/customers/imports"))


def test_a_dead_run_shows_stopped_and_starts_again(app, db, client, login):
    low_threshold()
    login("marketer")
    content = sheet([[f"顾客{i}", f"1380000{i:04d}"] for i in range(5)], ["姓名", "手机号"])
    upload = client.post("/customers/import", data={"file": (io.BytesIO(content), "断.xlsx")},
                         content_type="multipart/form-data")
    run_url = client.post(upload.location, data={"col_name": "0", "col_phone": "1"}).location
    token = run_url.rsplit("/", 1)[1]
    run = db.session.scalar(select(background.BackgroundRun).where(
        background.BackgroundRun.token == token))
    background.claim_next(now=background.utcnow() - timedelta(minutes=10))  # a worker that died
    db.session.commit()
    page = page_text(client.get(run_url))
    assert "已中断" in page and "没有写入任何数据" in page and "重新开始" in page
    again = client.post(run_url + "/restart")
    assert again.status_code == 302 and again.location != run_url
    db.session.refresh(run)
    assert run.state == "failed"
    worker.work(app)
    assert "已完成" in page_text(client.get(again.location))
    # Someone else's run is not there for them.
    client.post("/auth/logout")
    login("marketer")
    assert client.get(again.location).status_code == 404


def test_a_large_opening_import_runs_in_the_background(app, db, client, login):
    low_threshold(2)
    marketer = make_user(["marketer"])
    wang = make_customer(marketer, name="王大爷", phone="13800000001")
    make_customer(marketer, name="李大妈", phone="13800000002")
    make_customer(marketer, name="赵大爷", phone="13800000003")
    login("finance")
    content = sheet([["13800000001", 1500], ["13800000002", 200], ["13800000003", 30]],
                    ["电话", "积分"])
    upload = client.post("/opening/points/upload",
                         data={"file": (io.BytesIO(content), "积分.xlsx")},
                         content_type="multipart/form-data")
    checking = client.post(upload.location, data={"col_customer": "0", "col_balance": "1",
                                                  "col_earned_on": "-1"})
    assert "/runs/" in checking.location
    assert "期初数据导入：检查" in page_text(client.get("/opening/"))  # listed, in progress
    worker.work(app)
    preview_url = upload.location.replace("/columns", "")
    dry = page_text(client.get(preview_url))
    assert "待导入：3" in dry and "在后台检查完毕" in dry
    importing = client.post(preview_url, data={"mode": "all"})
    assert "/runs/" in importing.location
    worker.work(app)
    assert "查看结果" in page_text(client.get(importing.location))
    assert points.balance_of(wang.id) == 1500
    assert "已导入" in page_text(client.get(preview_url))


def test_a_large_export_is_downloaded_from_its_run(app, db, client, login):
    low_threshold(2)
    marketer = make_user(["marketer"])
    for i in range(4):
        make_customer(marketer, name=f"顾客{i}", phone=f"1390000{i:04d}")
    login("manager")
    response = client.post("/customers/export.xlsx", data={"q": ""})
    assert response.status_code == 302 and "/runs/" in response.location
    assert "顾客导出" in page_text(client.get(response.location))
    worker.work(app)
    page = page_text(client.get(response.location))
    assert "已导出 4 位顾客" in page
    workbook = client.get(response.location + "/download.xlsx")
    rows = list(load_workbook(io.BytesIO(workbook.data)).active.iter_rows(values_only=True))
    assert len(rows) == 5 and {r[1] for r in rows[1:]} == {f"顾客{i}" for i in range(4)}
    assert "导出记录" in page_text(client.get("/customers/imports"))


def test_an_exported_workbook_is_kept_and_sent_a_piece_at_a_time(app, db, client, login,
                                                                 monkeypatch):
    """#29 §2: the workbook of an export is stored in pieces (never read whole into the worker)
    and the download reads them back one query at a time, byte for byte, with its length."""
    monkeypatch.setattr(background, "PART_BYTES", 2000)
    low_threshold(2)
    marketer = make_user(["marketer"])
    for i in range(40):
        make_customer(marketer, name=f"顾客{i}", phone=f"1390001{i:04d}")
    login("manager")
    response = client.post("/customers/export.xlsx", data={"q": ""})
    worker.work(app)
    run = db.session.scalar(select(background.BackgroundRun)
                            .where(background.BackgroundRun.kind == "customer_export"))
    db.session.refresh(run)
    pieces = db.session.execute(select(background.BackgroundRunPart.seq,
                                       func.length(background.BackgroundRunPart.data))
                                .where(background.BackgroundRunPart.run_id == run.id)
                                .order_by(background.BackgroundRunPart.seq)).all()
    assert len(pieces) >= 3 and [p.seq for p in pieces] == list(range(len(pieces)))
    assert all(size == 2000 for _seq, size in pieces[:-1]) and 0 < pieces[-1][1] <= 2000
    assert run.content_size == sum(size for _seq, size in pieces)
    workbook = client.get(response.location + "/download.xlsx")
    assert workbook.status_code == 200 and workbook.content_length == run.content_size
    assert len(workbook.data) == run.content_size
    rows = list(load_workbook(io.BytesIO(workbook.data)).active.iter_rows(values_only=True))
    assert {r[1] for r in rows[1:]} == {f"顾客{i}" for i in range(40)}


def test_a_stored_file_of_exactly_whole_pieces_ends_with_no_empty_piece(app, db, monkeypatch):
    monkeypatch.setattr(background, "PART_BYTES", 4)
    run = background.enqueue("customer_export", actor=make_user(["manager"]))
    run.state = "running"
    db.session.flush()
    background.finish(run, {"count": 0}, content=io.BytesIO(b"abcdefgh"))
    db.session.refresh(run)
    assert run.content_size == 8 and list(background.content_pieces(run)) == [b"abcd", b"efgh"]
    empty = background.enqueue("customer_export", actor=make_user(["manager"]))
    empty.state = "running"
    db.session.flush()
    background.finish(empty, {"count": 0}, content=b"")
    db.session.refresh(empty)
    assert empty.content_size == 0 and list(background.content_pieces(empty)) == [b""]

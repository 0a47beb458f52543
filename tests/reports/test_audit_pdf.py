"""render_pdf and the printed audit log: Chinese text, header, filters, only static files."""
import io

import pytest
from pypdf import PdfReader

from models.audit import audit
from reports import StaticOnlyFetcher
from tests.factories import make_user


def pdf_text(data):
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_audit_log_prints_in_chinese_with_header_and_filter(db, client, login):
    me = login("manager")
    target = make_user(username="printed")
    audit(me, "user.update", target, summary="把张三调到销售二部")
    audit(me, "user.create", target, summary="不应出现")
    db.session.commit()
    response = client.get("/admin/audit.pdf?action=user.update&start=2026-01-01")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "审计日志" in text
    assert "会销通示范公司" in text                      # company, in the running header
    assert f"打印人：{me.display_name}" in text or me.display_name in text
    assert "2026-01-01" in text                         # the period
    assert "把张三调到销售二部" in text and "修改用户" in text
    assert "不应出现" not in text


def test_marketer_cannot_print_the_audit_log(db, client, login):
    login("marketer")
    assert client.get("/admin/audit.pdf").status_code == 403


def test_print_templates_may_load_only_static_files(app, tmp_path):
    fetcher = StaticOnlyFetcher(app.static_folder)
    response = fetcher.fetch(f"file://{fetcher.root}/css/app.css")
    assert b"touch" in response.read()
    for url in ("http://127.0.0.1:5432/", "file:///etc/passwd",
                f"file://{fetcher.root}/../app.py"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)

"""Printed output: render_pdf() is the one WeasyPrint entry point.

Print templates live under templates/print/ and extend print/base.html (A4, a CJK font, page
numbers, a header with the company, the period, who printed it and when). The URL fetcher loads
only this app's own static files: a print template can never make the server fetch a URL.
"""
import logging
import mimetypes
import time
from pathlib import Path

from flask import current_app, render_template
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

logger = logging.getLogger(__name__)


class StaticOnlyFetcher(URLFetcher):
    """Serves file:// URLs inside the static folder; refuses everything else."""

    def __init__(self, static_folder):
        super().__init__(allowed_protocols=("file",))
        self.root = Path(static_folder).resolve()

    def fetch(self, url, headers=None):
        prefix = f"file://{self.root}/"
        path = (self.root / url[len(prefix):].split("?")[0]).resolve() \
            if url.startswith(prefix) else None
        if path is None or self.root not in path.parents or not path.is_file():
            raise ValueError(f"print templates may load only static files, not {url}")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})


def render_pdf(template, context):
    """Render templates/<template> with `context` to A4 PDF bytes."""
    started = time.monotonic()
    html = render_template(template, **context)
    static = Path(current_app.static_folder).resolve()
    pdf = HTML(string=html, base_url=f"file://{static}/",
               url_fetcher=StaticOnlyFetcher(static)).write_pdf()
    logger.info("Rendered %s: %d bytes in %.2fs", template, len(pdf), time.monotonic() - started)
    return pdf

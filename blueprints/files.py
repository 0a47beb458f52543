"""The one way a route answers with a file: a PDF or a spreadsheet under a name the user can read
(Chinese included), through `flask.send_file`."""
import io
import re
import unicodedata

from flask import send_file

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MIMETYPES = {".pdf": PDF, ".xlsx": XLSX}
#: Characters a file system or a browser's save dialog refuses or reads as a path.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f\\/:*?"<>|]+')


def file_name(*parts, ext):
    """`parts` joined by "-" as a file name ending in `ext` (".pdf"), with the characters a file
    system refuses (/ \\ : * ? " < > |, control characters) replaced by "_"."""
    stem = "-".join(_UNSAFE.sub("_", str(part)).strip() for part in parts if str(part).strip())
    return f"{stem[:120] or 'file'}{ext}"


def send_download(content, name, *, inline=None, mimetype=None):
    """Answer with `content` (bytes, an open binary file, or a path) named `name`.

    The name may be Chinese: send_file writes it as RFC 5987 ``filename*=UTF-8''…`` with an
    ASCII ``filename=`` beside it for old clients. A PDF opens in the browser (inline) and any
    other file downloads (attachment) unless `inline` says otherwise; the mimetype follows the
    name's extension unless given."""
    ext = name[name.rfind("."):].lower() if "." in name else ""
    if inline is None:
        inline = ext == ".pdf"
    size = None
    if isinstance(content, (bytes, bytearray)):
        content = io.BytesIO(content)
    elif hasattr(content, "seek"):  # a temporary file: say its length (a download's progress)
        size = content.seek(0, io.SEEK_END)
        content.seek(0)
    mimetype = mimetype or MIMETYPES.get(ext, "application/octet-stream")
    response = send_file(content, mimetype=mimetype, as_attachment=not inline, download_name=name)
    if size is not None:
        response.content_length = size
        response.response = _close_when_sent(response.response, content)
    if not name.isascii():
        # send_file's ASCII fallback drops the Chinese and keeps the separators ("-1.pdf").
        stem = unicodedata.normalize("NFKD", name[:len(name) - len(ext)])
        stem = stem.encode("ascii", "ignore").decode().strip(" -_.") or "download"
        response.headers["Content-Disposition"] = re.sub(
            r'filename=("[^"]*"|[^;]*)', lambda _m: f'filename="{stem}{ext}"',
            response.headers["Content-Disposition"], count=1)
    return response


class Pieces(io.RawIOBase):
    """A file of known `size` read from `pieces` (an iterator of bytes, e.g. a stored export's
    pieces read one query at a time): what send_file reads, holding one piece at a time. Only
    its size is sought (seek to the end and back to the start, before any read)."""

    def __init__(self, pieces, size):
        super().__init__()
        self._pieces, self._size, self._piece, self._at, self._pos = iter(pieces), size, b"", 0, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        if self._pos or offset:
            raise io.UnsupportedOperation("only the size of a stored file is sought")
        return self._size if whence == io.SEEK_END else 0

    def tell(self):
        return self._pos

    def readinto(self, buffer):
        while self._at >= len(self._piece):
            self._piece, self._at = next(self._pieces, None), 0
            if self._piece is None:
                self._piece = b""
                return 0
        count = min(len(buffer), len(self._piece) - self._at)
        buffer[:count] = self._piece[self._at:self._at + count]
        self._at += count
        self._pos += count
        return count


def _close_when_sent(chunks, file):
    """The chunks of a temporary file, which is closed (and so deleted) once they are sent,
    whether or not the server closes the response."""
    try:
        yield from chunks
    finally:
        file.close()

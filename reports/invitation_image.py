"""The invitation card as an image (#28 §4): a PNG 1080 px wide that a marketer sends the guest
in WeChat — the company, the event, its time and place, the guest's name, the QR code the door
scans, and the marketer's name and phone.

The QR code carries exactly what the printed card's does (reports.invitation_cards: the
invitation's token, segno, error correction M, never a micro code), so the door's scanner reads
either. Drawn with Pillow in the CJK font the PDFs use (fontconfig's 'Noto Sans CJK SC', else
'WenQuanYi Micro Hei': ../shared/SETUP.md), found by its family name inside the font collection.
"""
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import segno
from flask_babel import gettext as _
from PIL import Image, ImageDraw, ImageFont

from formatting import local_dt, national_phone
from models.settings import get_setting

WIDTH = 1080
MARGIN = 80
#: The QR code's width on the image (px, rounded down to whole modules).
QR_WIDTH = 520
#: The quiet zone around the code, in modules (a phone camera needs the white border).
QR_BORDER = 4
RED, INK, GREY, PAPER = (166, 29, 36), (34, 34, 34), (110, 110, 110), (255, 252, 245)
#: (file, family) of the fonts the PDFs use, in the order of their CSS font-family.
FONTS = (("/usr/share/fonts/opentype/noto/NotoSansCJK-{weight}.ttc", "Noto Sans CJK SC"),
         ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "WenQuanYi Micro Hei"))


class NoFont(RuntimeError):
    """No CJK font installed: the image would show boxes instead of Chinese."""


@lru_cache(maxsize=16)
def font(size, bold=False):
    """The CJK font of the PDFs at `size` px (bold: Noto's bold face when installed)."""
    for pattern, family in FONTS:
        path = Path(pattern.format(weight="Bold" if bold else "Regular"))
        if not path.is_file():
            path = Path(pattern.format(weight="Regular"))
            if not path.is_file():
                continue
        for index in range(8):  # the faces of a collection: JP, KR, SC, TC, HK for Noto
            try:
                face = ImageFont.truetype(str(path), size, index=index)
            except OSError:
                break
            if face.getname()[0] == family:
                return face
    raise NoFont("No CJK font (fonts-noto-cjk or fonts-wqy-microhei) is installed.")


@dataclass(frozen=True)
class Card:
    company: str
    title: str
    starts: str
    ends: str
    venue: str
    address: str
    lecturer: str
    guest: str
    table: str
    companions: int
    #: What the QR code says: the invitation's token, as on the printed card.
    code: str
    marketer: str
    marketer_phone: str


def gather(invitation):
    """The card's plain data for one invitation."""
    event, inviter = invitation.event, invitation.inviter
    return Card(company=get_setting("general.company_name"), title=event.title,
                starts=local_dt(event.starts_at, "%Y-%m-%d %H:%M"),
                ends=local_dt(event.ends_at, "%H:%M"), venue=event.venue or "",
                address=event.address or "", lecturer=event.lecturer or "",
                guest=invitation.customer.name,
                table=invitation.table.name if invitation.table else "",
                companions=invitation.companions or 0, code=invitation.token,
                marketer=inviter.display_name if inviter else "",
                marketer_phone=national_phone(inviter.phone) if inviter and inviter.phone
                else "")


def wrap(text, face, width):
    """`text` cut into lines no wider than `width` px: anywhere between Chinese characters, at a
    space between Latin words (a word longer than the line is cut)."""
    lines = []
    for paragraph in str(text).splitlines() or [""]:
        line = ""
        for token in _tokens(paragraph):
            if face.getlength(line + token) <= width or not line:
                line += token
                while face.getlength(line) > width and len(line) > 1:  # one long word
                    cut = len(line) - 1
                    while cut > 1 and face.getlength(line[:cut]) > width:
                        cut -= 1
                    lines.append(line[:cut])
                    line = line[cut:]
            else:
                lines.append(line.rstrip())
                line = token.lstrip()
        lines.append(line.rstrip())
    return lines


def _tokens(paragraph):
    """Latin words (with the space before them) stay whole; every other character is one."""
    tokens, word = [], ""
    for char in paragraph:
        if char.isascii() and not char.isspace():
            word += char
            continue
        if word:
            tokens.append(word)
            word = ""
        tokens.append(char)
    if word:
        tokens.append(word)
    return tokens


def qr_image(code):
    """The QR code of `code` (as the printed card makes it), black on white, QR_WIDTH wide."""
    qr = segno.make(code, error="m", micro=False)
    modules = qr.symbol_size(scale=1, border=QR_BORDER)[0]
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=max(1, QR_WIDTH // modules), border=QR_BORDER)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def build(card):
    """The card as PNG bytes, WIDTH px wide (as tall as its text needs)."""
    inner = WIDTH - 2 * MARGIN
    blocks = []  # (lines, font, colour, line height, space after)

    def add(text, size, colour=INK, bold=False, after=18):
        face = font(size, bold)
        blocks.append((wrap(text, face, inner), face, colour, round(size * 1.45), after))

    add(_("Dear %(name)s,", name=card.guest), 52, bold=True, after=30)
    add(card.title, 46, RED, bold=True, after=26)
    add(_("Time: %(start)s – %(end)s", start=card.starts, end=card.ends), 36)
    add(_("Venue: %(venue)s", venue=card.venue) + (f" {card.address}" if card.address else ""),
        36)
    if card.lecturer:
        add(_("Speaker: %(name)s", name=card.lecturer), 36)
    if card.companions:
        add(_("With %(n)s companions", n=card.companions), 36)
    if card.table:
        add(_("Your table: %(table)s", table=card.table), 40, bold=True)
    code = qr_image(card.code)
    header = 230
    text_height = sum(len(lines) * height + after for lines, _f, _c, height, after in blocks)
    footer = 180
    height = header + 50 + text_height + 30 + code.height + 70 + footer
    image = Image.new("RGB", (WIDTH, height), PAPER)
    draw = ImageDraw.Draw(image)
    # The header: the company and 邀请函 on red.
    draw.rectangle((0, 0, WIDTH, header), fill=RED)
    draw.text((WIDTH // 2, 62), card.company, font=font(34), fill=(255, 236, 200), anchor="mm")
    draw.text((WIDTH // 2, 150), _("Invitation card"), font=font(84, True), fill="white",
              anchor="mm")
    y = header + 50
    for lines, face, colour, line_height, after in blocks:
        for line in lines:
            draw.text((MARGIN, y), line, font=face, fill=colour)
            y += line_height
        y += after
    # The code, centred, with what to do with it.
    y += 30
    image.paste(code, ((WIDTH - code.width) // 2, y))
    y += code.height + 14
    draw.text((WIDTH // 2, y + 22), _("Show this code at the door"), font=font(34),
              fill=GREY, anchor="mm")
    # The marketer, on a band at the bottom.
    top = height - footer
    draw.rectangle((0, top, WIDTH, height), fill=(248, 236, 220))
    draw.line((0, top, WIDTH, top), fill=RED, width=4)
    draw.text((WIDTH // 2, top + 62), _("Your host: %(name)s", name=card.marketer),
              font=font(40, True), fill=INK, anchor="mm")
    if card.marketer_phone:
        draw.text((WIDTH // 2, top + 122), _("Phone: %(phone)s", phone=card.marketer_phone),
                  font=font(38), fill=RED, anchor="mm")
    out = io.BytesIO()
    # zlib's default level: optimize=True took 2.5× as long (~0.9 s against ~0.36 s on a loaded
    # 2-core machine) for a file 3 % smaller. A whole card: ~0.1 s, ~100 KB (measured idle).
    image.save(out, "PNG")
    return out.getvalue()

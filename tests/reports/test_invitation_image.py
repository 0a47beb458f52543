"""The invitation card as a PNG for WeChat (#28 §4): 1080 px wide, Chinese drawn in the PDFs'
CJK font, and its QR code — decoded back with zxing-cpp — says what the printed card's says, which
the door's card lookup turns into the guest."""
import io
from pathlib import Path

import zxingcpp
from PIL import Image

from models import door, events as ev
from models.base import utcnow
from reports import invitation_cards, invitation_image
from tests.factories import make_customer, make_event, make_user

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def confirmed_guest(marketer, manager):
    event = make_event(manager, title="冬季养生健康讲座")
    event.venue, event.address, event.lecturer = "幸福酒店三楼", "北京市朝阳区幸福路 8 号", "王教授"
    customer = make_customer(marketer, name="欧阳秀英")
    invitation = ev.invite(event, customer, actor=marketer)
    ev.change_invitation(invitation, "confirmed", actor=marketer)
    return event, invitation


def test_the_png_card_decodes_to_what_the_door_accepts(client, login, db):
    manager = make_user(["manager"])
    marketer = make_user(["marketer"], display_name="刘芳", phone="13900001111")
    event, invitation = confirmed_guest(marketer, manager)
    login(marketer)
    response = client.get(f"/events/invitations/{invitation.id}/card.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["Content-Disposition"].startswith("inline")
    png = response.get_data()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "invitation-card.png").write_bytes(png)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width == 1080 and image.height > 1080
    [barcode] = zxingcpp.read_barcodes(image)
    assert barcode.format == zxingcpp.BarcodeFormat.QRCode
    assert barcode.text == invitation.token
    # The printed card's code says the same.
    printed = invitation_cards.gather(invitation_cards.Params(
        event_id=event.id, invitation_ids=(invitation.id,), layout="a6", printed_by="",
        printed_at=utcnow()))
    assert printed["cards"][0]["qr"] == invitation_cards.qr_svg(barcode.text)
    # The door's scanner path finds the guest by it.
    _event, found, _rule = door.door_event_and_card(event.id, manager, barcode.text)
    assert found is not None and found.id == invitation.id
    assert found.customer.name == "欧阳秀英"
    download = client.get(f"/events/invitations/{invitation.id}/card.png?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["Content-Disposition"].endswith(
        "filename*=UTF-8''%E9%82%80%E8%AF%B7%E5%87%BD-%E5%86%AC%E5%AD%A3%E5%85%BB%E7%94%9F"
        "%E5%81%A5%E5%BA%B7%E8%AE%B2%E5%BA%A7-%E6%AC%A7%E9%98%B3%E7%A7%80%E8%8B%B1.png")


def test_the_card_carries_the_marketer_and_the_event(db):
    manager = make_user(["manager"])
    marketer = make_user(["marketer"], display_name="刘芳", phone="13900001111")
    _event, invitation = confirmed_guest(marketer, manager)
    card = invitation_image.gather(invitation)
    assert (card.guest, card.title, card.venue, card.marketer, card.code) == (
        "欧阳秀英", "冬季养生健康讲座", "幸福酒店三楼", "刘芳", invitation.token)
    assert card.marketer_phone.replace(" ", "") == "13900001111"


def test_long_text_wraps_inside_the_card(db):
    face = invitation_image.font(36)
    lines = invitation_image.wrap("地点：" + "幸福酒店" * 30 + " Happiness Hotel", face, 920)
    assert len(lines) > 1 and all(face.getlength(line) <= 920 for line in lines)
    assert "".join(lines).replace(" ", "") == ("地点：" + "幸福酒店" * 30 +
                                               "HappinessHotel")


def test_another_marketers_guest_has_no_card(client, login, db):
    manager = make_user(["manager"])
    _event, invitation = confirmed_guest(make_user(["marketer"]), manager)
    login(make_user(["marketer"]))
    assert client.get(f"/events/invitations/{invitation.id}/card.png").status_code == 404

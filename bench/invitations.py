"""Speed of invitations (issue 4), on its own SQLite database built by the migrations.

    .venv/bin/python bench/invitations.py [--customers 2000] [--cards 500]

Bulk-invites 2,000 customers to one event (the operation the customer list calls, committed:
`bulk_invite_2000_s`), then renders 500 confirmed invitation cards (four per A4 page) to PDF
(`cards_pdf_500_s`, `cards_pdf_bytes`). Ends with one JSON line of the figures.
"""
import argparse
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from faker import Faker  # noqa: E402
from flask import g  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from app import create_app  # noqa: E402
from extensions import db  # noqa: E402
from models import accounts, customers as c, events as ev  # noqa: E402
from models.base import begin_write, utcnow  # noqa: E402
from reports import invitation_cards  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000, help="customers invited")
    parser.add_argument("--cards", type=int, default=500, help="confirmed cards printed")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-invitations-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
                      "INSTANCE_DIR": str(folder), "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    fake = Faker("zh_CN")
    Faker.seed(5)
    figures = {}
    with app.test_request_context():
        upgrade()
        manager = accounts.create_user(username="boss", display_name="老板",
                                       password="bench2026x", roles=["manager"], actor=None)
        marketer = accounts.create_user(username="m1", display_name="刘芳",
                                        password="bench2026x", roles=["marketer"], actor=None)
        now = utcnow()
        rows = []
        for i in range(args.customers):
            name = fake.name()
            pinyin, initials = c.pinyin_of(name)
            rows.append({"name": name, "name_pinyin": pinyin, "name_initials": initials,
                         "phone": f"+86138{i:08d}", "phone_reversed": f"138{i:08d}"[::-1],
                         "owner_id": marketer.id, "status": "active", "created_at": now,
                         "owned_since": now})
        db.session.execute(insert(c.Customer), rows)
        start = now + timedelta(days=3)
        event = ev.create_event(title="金秋养生健康讲座", kind="lecture", venue="幸福大酒店",
                                starts_at=start, ends_at=start + timedelta(hours=3),
                                capacity=max(5000, args.customers), actor=manager)
        ev.change_event_status(event, "open", actor=manager)
        db.session.commit()
        ids = list(db.session.scalars(select(c.Customer.id)))

        started = time.perf_counter()
        begin_write()
        invited, skipped = ev.bulk_invite(event, ids, actor=marketer)
        db.session.commit()
        figures["bulk_invite_2000_s"] = round(time.perf_counter() - started, 2)
        assert invited == args.customers and skipped == 0

        chosen = db.session.scalars(select(ev.Invitation).where(
            ev.Invitation.event_id == event.id).limit(args.cards)).all()
        for invitation in chosen:
            ev.change_invitation(invitation, "confirmed", actor=marketer)
        db.session.commit()
        g.pop("_settings", None)
        started = time.perf_counter()
        data = invitation_cards.gather(invitation_cards.Params(
            event_id=event.id, invitation_ids=tuple(i.id for i in chosen), layout="a4",
            printed_by="刘芳", printed_at=utcnow()))
        pdf = invitation_cards.build(data)
        figures["cards_pdf_500_s"] = round(time.perf_counter() - started, 2)
        figures["cards_pdf_bytes"] = len(pdf)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""UTCDateTime, the OperationError family, one-time tokens (TokenMixin + add_once)."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Integer, MetaData, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from models.audit import AuditEntry
from models.base import (Conflict, InvalidInput, NotFound, OperationError, PermissionDenied,
                         TokenMixin, add_once, is_token, new_token)


class _Base(DeclarativeBase):
    metadata = MetaData()  # not the app's metadata: migrations never see this test table


class Receipt(TokenMixin, _Base):
    """A stand-in ledger row, to prove the token mechanism every ledger will use."""
    __tablename__ = "test_receipts"
    id: Mapped[int] = mapped_column(primary_key=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(20), default="")


@pytest.fixture
def receipts(db):
    connection = db.session.connection()
    _Base.metadata.create_all(connection)
    yield Receipt


def test_utc_datetime_round_trip_keeps_the_instant(db):
    shanghai = datetime(2026, 11, 25, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    entry = AuditEntry(action="test", at=shanghai)
    db.session.add(entry)
    db.session.flush()
    db.session.expire(entry)
    assert entry.at == shanghai
    assert entry.at.tzinfo == timezone.utc
    assert entry.at.hour == 0  # 08:30 in Shanghai is 00:30 UTC


def test_utc_datetime_refuses_naive_values(db):
    db.session.add(AuditEntry(action="test", at=datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="aware datetime"):
        db.session.flush()


@pytest.mark.parametrize("error, status", [
    (OperationError, 400), (InvalidInput, 422), (NotFound, 404), (PermissionDenied, 403),
    (Conflict, 409)])
def test_operation_errors_carry_message_status_and_field(error, status):
    exc = error("金额不能为负", field="amount")
    assert (exc.status, exc.message, exc.field) == (status, "金额不能为负", "amount")
    assert isinstance(exc, OperationError)


def test_tokens_are_uuids():
    token = new_token()
    assert is_token(token) and token != new_token()
    for bad in ("", None, "abc", "1' OR '1'='1", token.upper(), token + "x"):
        assert not is_token(bad)


def test_add_once_writes_once_and_returns_the_first_row(db, receipts):
    token = new_token()
    first, created = add_once(receipts(amount_fen=5000, token=token))
    again, created_again = add_once(receipts(amount_fen=5000, token=token, note="retry"))
    assert created and not created_again
    assert again.id == first.id and again.note == ""
    assert db.session.scalar(select(func.count()).select_from(receipts)) == 1


def test_add_once_survives_losing_the_race(db, receipts, monkeypatch):
    """The other tablet wrote the token between our check and our insert: the unique
    constraint fires, and we return its row with our transaction still usable."""
    token = new_token()
    winner, _ = add_once(receipts(amount_fen=100, token=token))
    real_lookup = receipts.by_token.__func__
    calls = []

    def blind_first_lookup(cls, t):
        calls.append(t)
        return None if len(calls) == 1 else real_lookup(cls, t)
    monkeypatch.setattr(receipts, "by_token", classmethod(blind_first_lookup))
    row, created = add_once(receipts(amount_fen=100, token=token))
    assert not created and row.id == winner.id and len(calls) == 2
    other, created = add_once(receipts(amount_fen=1, token=new_token()))
    assert created and other.id != winner.id


def test_rows_without_token_are_always_written(db, receipts):
    add_once(receipts(amount_fen=1))
    add_once(receipts(amount_fen=1))
    assert db.session.scalar(select(func.count()).select_from(receipts)) == 2


def test_end_reads_keeps_what_was_read_and_refuses_unwritten_changes(db):
    from sqlalchemy import inspect

    from models.accounts import User
    from models.base import end_reads
    from tests.factories import make_user
    user = make_user(username="reader")
    db.session.commit()
    loaded = db.session.get(User, user.id)
    end_reads()
    assert not inspect(loaded).expired_attributes
    assert not db.session().in_transaction()
    loaded.display_name = "改了"
    with pytest.raises(RuntimeError):
        end_reads()


def test_commit_keeping_loaded_writes_and_reads_nothing_again(committed_db):
    db = committed_db
    from sqlalchemy import create_engine, inspect

    from models.accounts import User
    from models.base import commit_keeping_loaded
    from tests.factories import make_user
    user = make_user(username="writer")
    db.session.commit()
    loaded = db.session.get(User, user.id)
    loaded.display_name = "王会务"
    commit_keeping_loaded()
    assert not inspect(loaded).expired_attributes  # drawn from memory, no query
    assert not db.session().in_transaction()
    # Written: another connection sees it.
    other = create_engine(db.engine.url)
    with other.connect() as conn:
        assert conn.exec_driver_sql(
            f"SELECT display_name FROM users WHERE id = {user.id}").scalar() == "王会务"
    other.dispose()
    # And later commits expire as before.
    loaded.display_name = "李会务"
    db.session.commit()
    assert "display_name" in inspect(loaded).expired_attributes

"""Seating over HTTP: confirming plans a table, the seating page, tap-tap moves (refusals write
nothing, a manager's override is recorded), re-planning, the event page's warnings, the room."""
from sqlalchemy import func, select

from models import checkin as ci, events as ev
from models.audit import AuditEntry
from models.base import new_token
from tests.conftest import page_text
from tests.factories import make_customer, make_department, make_event, make_user


def setup_room(db):
    manager = make_user(["manager"])
    wang = make_user(["marketer"], display_name="王经理", department=make_department("一部"))
    event = make_event(manager, title="养生讲座", capacity=20)
    one = ev.save_table(event, number=1, seats=3, host=wang, actor=manager)
    two = ev.save_table(event, number=2, seats=4, actor=manager)
    invitations = [ev.invite(event, make_customer(wang, name=name), actor=wang,
                             companions=companions)
                   for name, companions in (("张秀兰", 1), ("李桂英", 1))]
    return event, manager, wang, (one, two), invitations


def moves(db):
    return db.session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action.in_(("seating.move", "seating.override"))))


def test_confirming_on_the_list_plans_the_inviters_table(db, client, login):
    event, _, wang, (one, two), (zhang, li) = setup_room(db)
    login(wang)
    for invitation in (zhang, li):
        response = client.post(f"/events/invitations/{invitation.id}/status",
                               data={"status": "confirmed"})
        assert response.status_code == 302
    assert (zhang.table, li.table) == (one, two)  # 3 seats at 王's table: the pair overflows
    client.post("/auth/logout")
    login("manager")
    page = page_text(client.get(f"/events/{event.id}/seating"))
    assert "1 号桌 负责人：王经理 2/3 剩 1 座 张秀兰 +1 王经理" in page
    assert "2 号桌 无负责人 2/4 剩 2 座 李桂英 +1" in page


def test_tap_a_guest_then_a_table_moves_them_and_refusals_write_nothing(db, client, login):
    event, manager, wang, (one, two), (zhang, li) = setup_room(db)
    for invitation in (zhang, li):
        ev.change_invitation(invitation, "confirmed", actor=wang)  # no seat planned
    head = login(make_user(["dept_head"], department=wang.department))
    unseated = page_text(client.get(f"/events/{event.id}/seating"))
    assert "7 座中已排 0 人；4 人暂无座位" in unseated  # the guests without a table, listed
    assert "暂无座位 4 人 李桂英 +1 王经理 张秀兰 +1 王经理" in unseated
    page = client.get(f"/events/{event.id}/seating?guest={zhang.id}")
    assert "正在调整张秀兰（一行 2 人）" in page_text(page)
    response = client.post(f"/events/{event.id}/seating/move", data={
        "invitation_id": str(zhang.id), "table_id": str(one.id)})
    assert response.status_code == 302 and response.location.endswith(f"#table-{one.id}")
    assert "已把张秀兰移到1 号桌。" in page_text(client.get(response.location))
    assert zhang.table == one and zhang.is_seated_by_hand
    # Full: 2 of 3 taken, 李桂英 comes as two. Refused with the reason, nothing written.
    response = client.post(f"/events/{event.id}/seating/move", data={
        "invitation_id": str(li.id), "table_id": str(one.id), "override_reason": "想坐一起"})
    assert response.status_code == 409
    assert "1 号桌共 3 座，只剩 1 座，李桂英 一行 2 人。请换一张桌子" in page_text(response)
    assert li.table is None and moves(db) == 1
    # Another event's table, a made-up table, no table: refused, nothing written.
    other = ev.save_table(make_event(manager, title="别的场次"), number=7, seats=9,
                          actor=manager)
    for table_id, status in ((other.id, 422), (999999, 422), ("", 422), ("x", 422)):
        response = client.post(f"/events/{event.id}/seating/move", data={
            "invitation_id": str(li.id), "table_id": str(table_id)})
        assert response.status_code == status, table_id
    assert "这个桌位不属于本场会议" in page_text(response) or "请点选要把来宾移去的桌子" in \
        page_text(response)
    # A guest of another event is not found here.
    stranger = ev.invite(make_event(manager, title="又一场"),
                         make_customer(wang, name="外人"), actor=wang)
    response = client.post(f"/events/{event.id}/seating/move", data={
        "invitation_id": str(stranger.id), "table_id": str(two.id)})
    assert response.status_code == 404
    assert moves(db) == 1 and head.id


def test_a_manager_seats_beyond_a_full_table_with_a_recorded_reason(db, client, login):
    event, manager, wang, (one, _), (zhang, li) = setup_room(db)
    for invitation in (zhang, li):
        ev.change_invitation(invitation, "confirmed", actor=wang)
    zhang.table = one
    db.session.flush()
    login(manager)
    response = client.post(f"/events/{event.id}/seating/move", data={
        "invitation_id": str(li.id), "table_id": str(one.id)})
    assert response.status_code == 422 and "超额安排请填写理由" in page_text(response)
    assert li.table is None
    response = client.post(f"/events/{event.id}/seating/move", data={
        "invitation_id": str(li.id), "table_id": str(one.id), "override_reason": "一家人"})
    assert response.status_code == 302 and li.table == one
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "seating.override"))
    assert (entry.summary, entry.actor_id) == ("一家人", manager.id)
    assert "超出 1 人" in page_text(client.get(f"/events/{event.id}/seating"))


def test_event_staff_move_a_guest_only_after_check_in(db, client, login):
    event, manager, wang, (one, two), (zhang, _) = setup_room(db)
    staff = make_user(["event_staff"])
    ev.set_event_staff(event, [staff], actor=manager)
    ev.change_invitation(zhang, "confirmed", actor=wang)
    zhang.table = one
    db.session.flush()
    login(staff)
    response = client.post(f"/events/{event.id}/seating/move", data={
        "invitation_id": str(zhang.id), "table_id": str(two.id)})
    assert response.status_code == 403 and zhang.table == one
    assert 'data-testid="move-here"' not in client.get(
        f"/events/{event.id}/seating?guest={zhang.id}").get_data(as_text=True)
    ci.check_in(event, zhang, actor=staff, token=new_token())
    response = client.post(f"/events/{event.id}/seating/move", data={
        "invitation_id": str(zhang.id), "table_id": str(two.id)})
    assert response.status_code == 302 and zhang.table == two
    assert client.post(f"/events/{event.id}/seating/replan").status_code == 403


def test_a_department_head_sees_other_departments_guests_as_a_count(db, client, login):
    event, manager, wang, (one, _), (zhang, _) = setup_room(db)
    ev.change_invitation(zhang, "confirmed", actor=wang)
    zhang.table = one
    db.session.flush()
    head = make_user(["dept_head"], department=make_department("二部"))
    login(head)
    page = page_text(client.get(f"/events/{event.id}/seating"))
    assert "张秀兰" not in page and "另有其他部门来宾 1 位" in page
    response = client.post(f"/events/{event.id}/seating/move", data={
        "invitation_id": str(zhang.id), "table_id": str(one.id)})
    assert response.status_code == 404


def test_replan_button_and_the_event_pages_warnings(db, client, login):
    event, manager, wang, (one, two), (zhang, li) = setup_room(db)
    for invitation in (zhang, li):
        ev.change_invitation(invitation, "confirmed", actor=wang)
    login(manager)
    page = page_text(client.get(f"/events/{event.id}"))
    assert "已确认 4 人（含同行人员），容量 20 人。" in page
    assert "桌子共 7 座" not in page  # 7 seats, 4 people, capacity 20: nothing to warn about
    response = client.post(f"/events/{event.id}/seating/replan")
    assert "已重新排座：2 位来宾已排座，0 位暂无座位。" in page_text(client.get(response.location))
    assert (zhang.table, li.table) == (one, two)
    ev.save_table(event, number=3, seats=20, actor=manager)
    assert "桌子共 27 座，超过会议容量 20 人。" in page_text(client.get(f"/events/{event.id}"))
    ev.save_table(event, number=3, seats=1, actor=manager,
                  table=db.session.scalar(select(ev.EventTable).where(
                      ev.EventTable.number == 3)))
    ev.save_table(event, number=1, seats=1, actor=manager, table=one)
    ev.save_table(event, number=2, seats=1, actor=manager, table=two)
    assert "桌子共 3 座，已确认 4 人：请加桌或加座。" in page_text(client.get(f"/events/{event.id}"))


def test_the_room_view_shows_planned_and_arrived(db, client, login):
    event, manager, wang, (one, _), (zhang, li) = setup_room(db)
    for invitation in (zhang, li):
        ev.change_invitation(invitation, "confirmed", actor=wang)
    zhang.table = li.table = one
    db.session.flush()
    staff = make_user(["event_staff"])
    ev.set_event_staff(event, [staff], actor=manager)
    ci.check_in(event, zhang, actor=staff, token=new_token(), companions=0)
    login(staff)
    page = page_text(client.get(f"/checkin/{event.id}/room"))
    assert "1 号桌 王经理 已到 1 人，待到 2 人，空 0 座 已到：张秀兰 未到：李桂英 +1" in page

"""Operations on customers: register, change, follow up, transfer, the public pool, lists."""

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import insert, or_, select, update

from extensions import db
from models.accounts import DEPARTMENT_CHANGE_HANDLERS, ROLES, Department, User
from models.audit import (audit, audit_each, register_actions, register_fields,
                          register_targets)
from models.base import Conflict, InvalidInput, NotFound, PermissionDenied, among, utcnow
from models.clock import local_day
from models.customers.reads import (DuplicateCustomer, claims_today, clean_customer_data,
                                    duplicate_of, name_parts, name_tails, owned_count,
                                    visible_customers)
from models.customers.tables import (CONTACT_KINDS, DEFAULT_CHANNELS, OWNERSHIP_KINDS, Channel,
                                     ContactLog, Customer, NamePart, OwnershipChange, Tag,
                                     customer_tags)
from models.scoping import department_subtree_ids
from models.settings import define, define_area, get_setting
from models.timeline import TimelineItem, register_provider

#: Called as handler(customer ids, new owner or None) whenever customers change hands (tasks
#: follow the customer), once for all the customers of one change.
OWNER_CHANGE_HANDLERS = []

# --- Operations --------------------------------------------------------------------------------

def _default_owner(actor, owner):
    """The owner of a new customer: the chosen one, else the actor if a marketer."""
    if owner is not None:
        if not owner.is_active or not owner.has_role("marketer"):
            raise InvalidInput(_("%(name)s is not an active marketer.", name=owner.display_name),
                               field="owner_id")
        return owner
    if actor is not None and actor.has_role("marketer"):
        return actor
    raise InvalidInput(_("Choose the marketer this customer belongs to."), field="owner_id")


def new_customer_row(values, *, owner, actor, now):
    """The columns of a new customer from its checked values (clean_customer_data): one
    definition for create_customer and an import's bulk insert (create_customers)."""
    # A grade given at registration or import was given by a person: kept until cleared.
    return {**values, "grade_is_manual": bool(values.get("grade")), "owner_id": owner.id,
            "department_id": owner.department_id, "status": "active",
            "created_by_id": getattr(actor, "id", None), "created_at": now, "owned_since": now}


def creation_change_row(customer_id, owner, *, actor, now):
    """The OwnershipChange of a new customer: "create", to its first owner."""
    return {"customer_id": customer_id, "kind": "create", "from_owner_id": None,
            "to_owner_id": owner.id, "reason": "", "actor_id": getattr(actor, "id", None),
            "at": now}


def create_customer(data, *, actor, owner=None, now=None, quiet=False, at_the_door=False):
    """Register a customer. A mobile that already belongs to someone raises DuplicateCustomer.

    `quiet` skips the per-customer audit entry (an import writes one for the whole file; the
    ownership change is still recorded per customer). `at_the_door`: event staff register a
    walk-in for the marketer the guest belongs to."""
    now = now or utcnow()
    # At the door the referrer is named by the guest, not looked up in the staff's scope.
    values = clean_customer_data(data, today=local_day(now),
                                 actor=None if at_the_door else actor)
    if (existing := duplicate_of(values["phone"])) is not None:
        raise DuplicateCustomer(existing)
    owner = _default_owner(actor, owner)
    if not at_the_door:
        _check_may_own(actor, owner)
    customer = Customer(**new_customer_row(values, owner=owner, actor=actor, now=now),
                        owner=owner, name_parts=name_parts(values["name"]))
    customer.tags = _tags(data.tag_ids)
    db.session.add(customer)
    db.session.flush()
    db.session.add(OwnershipChange(**creation_change_row(customer.id, owner, actor=actor,
                                                         now=now)))
    if not quiet:
        audit(actor, "customer.create", customer, summary=customer.name,
              after={"owner": owner.display_name}, now=now)
    return customer


#: Customers inserted by one statement of create_customers.
BULK_CHUNK = 2000


def create_customers(rows, *, actor, now=None):
    """Register many customers at once (an import): `rows` are (values checked by
    clean_customer_data and against the archive's mobiles, tag ids, owner or None). Writes
    exactly what create_customer writes for each — the customer (new_customer_row), its name
    parts, its tags and its "create" ownership change — with one statement per table a chunk
    of rows at a time, and no audit entry (the import writes one for the file). Returns the
    new ids, in the order of `rows`. A mobile taken meanwhile fails the unique index: the
    caller rolls everything back."""
    now = now or utcnow()
    owners = {}  # the owner of each row, checked once per owner
    for _values, _tag_ids, owner in rows:
        key = getattr(owner, "id", None)
        if key not in owners:
            owners[key] = _default_owner(actor, owner)
            _check_may_own(actor, owners[key])
    tag_ids = {int(t) for _values, tags, _owner in rows for t in tags or () if t}
    if tag_ids and len(set(db.session.scalars(select(Tag.id).where(Tag.id.in_(tag_ids))))) \
            != len(tag_ids):
        raise InvalidInput(_("Unknown tag."), field="tag_ids")
    # Core inserts of many rows ("insertmanyvalues"), each new id matched to its row by the
    # mobile (unique): asked for in the rows' order (sort_by_parameter_order), SQLite's
    # RETURNING would be one INSERT a row.
    insert_customers = Customer.__table__.insert().returning(
        Customer.__table__.c.phone, Customer.__table__.c.id)
    connection = db.session.connection()
    db.session.flush()
    ids = []
    for start in range(0, len(rows), BULK_CHUNK):
        chunk = rows[start:start + BULK_CHUNK]
        made = [new_customer_row(values, owner=owners[getattr(owner, "id", None)], actor=actor,
                                 now=now) for values, _tags, owner in chunk]
        ids_by_phone = dict(connection.execute(insert_customers, made).all())
        new = [ids_by_phone[row["phone"]] for row in made]
        parts, tags, changes = [], [], []
        for customer_id, row, (_values, tag_ids, owner) in zip(new, made, chunk):
            parts += [{"part": part, "customer_id": customer_id}
                      for part in dict.fromkeys(name_tails(row["name"]))]
            tags += [{"customer_id": customer_id, "tag_id": tag_id}
                     for tag_id in sorted({int(t) for t in tag_ids or () if t})]
            changes.append(creation_change_row(customer_id, owners[getattr(owner, "id", None)],
                                               actor=actor, now=now))
        for table, values in ((NamePart.__table__, parts), (customer_tags, tags),
                              (OwnershipChange.__table__, changes)):
            if values:
                connection.execute(table.insert(), values)
        ids += new
    return ids


def update_customer(customer, data, *, actor, now=None):
    """Change a customer's record (not the owner: that is a transfer)."""
    now = now or utcnow()
    values = clean_customer_data(data, today=local_day(now), own_id=customer.id, actor=actor)
    if (existing := duplicate_of(values["phone"], own_id=customer.id)) is not None:
        raise DuplicateCustomer(existing)
    watched = ("name", "phone", "grade", "do_not_call", "do_not_sms")
    before = {key: getattr(customer, key) for key in watched}
    if values["grade"] != customer.grade:
        values["grade_is_manual"] = bool(values["grade"])
    if values["name"] != customer.name:
        customer.name_parts = name_parts(values["name"])
    for key, value in values.items():
        setattr(customer, key, value)
    customer.tags = _tags(data.tag_ids)
    db.session.flush()
    audit(actor, "customer.update", customer, summary=customer.name, before=before,
          after={key: getattr(customer, key) for key in watched}, now=now)
    return customer


def _tags(tag_ids):
    ids = {int(t) for t in tag_ids or () if t}
    if not ids:
        return []
    tags = db.session.scalars(select(Tag).where(Tag.id.in_(ids))).all()
    if len(tags) != len(ids):
        raise InvalidInput(_("Unknown tag."), field="tag_ids")
    return list(tags)


def record_contact(customer, *, kind, content, outcome="", next_follow_up=None, actor,
                   now=None, reached=True):
    """Write a contact log (跟进记录) and move the customer's last contact time (not for an
    unanswered call: `reached=False`)."""
    now = now or utcnow()
    if kind not in CONTACT_KINDS:
        raise InvalidInput(_("Choose how you contacted the customer."), field="kind")
    content = (content or "").strip()
    if not content:
        raise InvalidInput(_("Write what was said or done."), field="content")
    today = local_day(now)
    if next_follow_up and next_follow_up < today:
        raise InvalidInput(_("The next follow-up cannot be in the past."),
                           field="next_follow_up")
    if customer.status == "pool":
        raise Conflict(_("Claim this customer from the public pool before following up."))
    log = ContactLog(customer_id=customer.id, kind=kind, content=content,
                     outcome=(outcome or "").strip()[:200], next_follow_up=next_follow_up,
                     actor_id=actor.id, at=now, reached=reached)
    db.session.add(log)
    if reached and (customer.last_contact_at is None or customer.last_contact_at < now):
        customer.last_contact_at = now
    db.session.flush()
    return log


def touch_last_contact(customer_id, at):
    """Move a customer's last contact time (最近跟进) to `at` if later: one guarded UPDATE,
    cheap enough for the door's check-ins and every order (see last_contact_of)."""
    db.session.execute(
        update(Customer).where(Customer.id == customer_id,
                               or_(Customer.last_contact_at.is_(None),
                                   Customer.last_contact_at < at))
        .values(last_contact_at=at).execution_options(synchronize_session=False))
    forget_last_contact(customer_id)


def forget_last_contact(customer_id):
    """Expire a loaded customer's last contact time after a statement moved it in the
    database (read again when next used)."""
    loaded = db.session.identity_map.get(db.session.identity_key(Customer, customer_id))
    if loaded is not None:
        db.session.expire(loaded, ["last_contact_at"])


def mark_do_not_call(customer, *, actor, now=None):
    """Set 勿扰 (do not call) on a customer, as an edit of the record is audited."""
    if customer.do_not_call:
        return customer
    watched = ("name", "phone", "grade", "do_not_call", "do_not_sms")
    before = {key: getattr(customer, key) for key in watched}
    customer.do_not_call = True
    db.session.flush()
    audit(actor, "customer.update", customer, summary=customer.name, before=before,
          after={key: getattr(customer, key) for key in watched}, now=now)
    return customer


def _check_may_own(actor, owner):
    """A department head hands customers only to marketers of their department."""
    if actor is None or actor.has_role("admin", "manager"):
        return
    if actor.has_role("dept_head") and owner.department_id in department_subtree_ids(
            actor.department_id):
        return
    if actor.id == owner.id:
        return
    raise PermissionDenied(_("You may hand customers only to marketers of your department."),
                           field="owner_id")


def _change_owners(customers, kind, to_owner, *, actor, reason, now):
    """Move `customers` (locked rows) to `to_owner`, or to the pool when None: an ownership
    change and an audit entry each, written by one statement each however many there are (a
    night reclaims thousands); the handlers (their open tasks) run once for them all."""
    if not customers:
        return
    after = {"owner": to_owner.display_name if to_owner else _("Public pool")}
    changes, audited = [], []
    for customer in customers:
        changes.append(dict(customer_id=customer.id, kind=kind, from_owner_id=customer.owner_id,
                            to_owner_id=to_owner.id if to_owner else None, reason=reason,
                            actor_id=getattr(actor, "id", None), at=now))
        before = {"owner": customer.owner.display_name if customer.owner else _("Public pool")}
        audited.append((customer, reason or customer.name, before, after))
        if to_owner is None:
            customer.owner, customer.status, customer.pooled_at = None, "pool", now
        else:
            customer.owner, customer.status, customer.owned_since = to_owner, "active", now
            customer.department_id = to_owner.department_id
    db.session.execute(insert(OwnershipChange), changes)
    audit_each(actor, f"customer.{kind}", audited, now=now)
    ids = [customer.id for customer in customers]
    for handler in OWNER_CHANGE_HANDLERS:
        handler(ids, to_owner)


def _lock(customer_ids):
    """Load customers for an ownership change, rows locked (PostgreSQL)."""
    return db.session.scalars(select(Customer).where(among(Customer.id, customer_ids))
                              .order_by(Customer.id).with_for_update(of=Customer)
                              .execution_options(populate_existing=True)).all()


def transfer_customers(customer_ids, to_owner, *, actor, reason, now=None):
    """Hand customers to another marketer (离职交接 and the like). Returns how many moved.

    Managers and admins move any customer; a department head only customers of their
    department, to a marketer of their department.
    """
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say why the customers are transferred."), field="reason")
    if not customer_ids:
        raise InvalidInput(_("Choose at least one customer."))
    if to_owner is None or not to_owner.is_active or not to_owner.has_role("marketer"):
        raise InvalidInput(_("Choose an active marketer to receive the customers."),
                           field="to_owner_id")
    if not actor.has_role("admin", "manager", "dept_head"):
        raise PermissionDenied(_("Only managers and department heads transfer customers."))
    _check_may_own(actor, to_owner)
    visible = set(db.session.scalars(visible_customers(actor).with_only_columns(Customer.id)
                                     .where(among(Customer.id, customer_ids))))
    if visible != set(customer_ids):
        raise NotFound(_("Some of the chosen customers are not yours to transfer."))
    locked = _lock(customer_ids)
    if any(customer.status == "pool" for customer in locked):
        raise Conflict(_("Customers in the public pool are assigned, not transferred."))
    moving = [customer for customer in locked if customer.owner_id != to_owner.id]
    _change_owners(moving, "transfer", to_owner, actor=actor, reason=reason, now=now)
    db.session.flush()
    return len(moving)


def transfer_book(from_owner, to_owner, *, actor, reason, now=None):
    """Hand every customer of `from_owner` (a leaving marketer) to `to_owner` in one action."""
    ids = list(db.session.scalars(select(Customer.id).where(
        Customer.owner_id == from_owner.id, Customer.status != "pool")))
    if not ids:
        raise InvalidInput(_("%(name)s owns no customers.", name=from_owner.display_name))
    return transfer_customers(ids, to_owner, actor=actor, reason=reason, now=now)


def release_to_pool(customer_ids, *, actor, reason, now=None):
    """Managers and department heads put customers into the public pool (公海)."""
    now = now or utcnow()
    if not actor.has_role("admin", "manager", "dept_head"):
        raise PermissionDenied(_("Only managers and department heads release customers."))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say why the customers go to the public pool."), field="reason")
    visible = set(db.session.scalars(visible_customers(actor).with_only_columns(Customer.id)
                                     .where(among(Customer.id, customer_ids))))
    if not customer_ids or visible != set(customer_ids):
        raise NotFound(_("Some of the chosen customers are not yours to release."))
    releasing = [customer for customer in _lock(customer_ids) if customer.status != "pool"]
    _change_owners(releasing, "release", None, actor=actor, reason=reason, now=now)
    db.session.flush()
    return len(releasing)


def claim_from_pool(customer, *, actor, now=None):
    """A marketer takes a customer from the pool, within the daily claim limit and the cap on
    owned customers."""
    now = now or utcnow()
    if not actor.has_role("marketer"):
        raise PermissionDenied(_("Only marketers claim customers from the public pool."))
    customer = _lock([customer.id])[0]
    if customer.status != "pool":
        raise Conflict(_("%(name)s is no longer in the public pool.", name=customer.name))
    limit = get_setting("customers.claims_per_day")
    if claims_today(actor, now) >= limit:
        raise Conflict(_("You have claimed %(n)s customers today, the daily limit.", n=limit))
    cap = get_setting("customers.max_owned")
    if owned_count(actor) >= cap:
        raise Conflict(_("You already own %(n)s customers, the most one marketer may own.",
                         n=cap))
    _change_owners([customer], "claim", actor, actor=actor, reason="", now=now)
    db.session.flush()
    return customer


def assign_from_pool(customer_ids, to_owner, *, actor, reason="", now=None):
    """A manager (or department head, within the department) gives pool customers to a
    marketer."""
    now = now or utcnow()
    if not actor.has_role("admin", "manager", "dept_head"):
        raise PermissionDenied(_("Only managers and department heads assign from the pool."))
    if to_owner is None or not to_owner.is_active or not to_owner.has_role("marketer"):
        raise InvalidInput(_("Choose an active marketer to receive the customers."),
                           field="to_owner_id")
    _check_may_own(actor, to_owner)
    visible = set(db.session.scalars(visible_customers(actor).with_only_columns(Customer.id)
                                     .where(among(Customer.id, customer_ids))))
    if not customer_ids or visible != set(customer_ids):
        raise NotFound(_("Some of the chosen customers are not yours to assign."))
    customers = _lock(customer_ids)
    if not customers or any(c.status != "pool" for c in customers):
        raise Conflict(_("Only customers in the public pool can be assigned."))
    _change_owners(customers, "assign", to_owner, actor=actor, reason=reason, now=now)
    db.session.flush()
    return len(customers)


def release_idle(customer_ids, owner_id, *, reason, now=None, chunk=2000):
    """The nightly pool reclaim's move: customers of `owner_id` go to the public pool. Each is
    locked and checked again (still active, still that owner's), so two runs at once move it
    once; `chunk` customers at a time (their open tasks closed by one statement). Returns the
    ids moved."""
    now = now or utcnow()
    moved = []
    for start in range(0, len(customer_ids), chunk):
        going = [customer for customer in _lock(customer_ids[start:start + chunk])
                 if customer.status == "active" and customer.owner_id == owner_id]
        _change_owners(going, "reclaim", None, actor=None, reason=reason, now=now)
        moved.extend(customer.id for customer in going)
    db.session.flush()
    return moved


LIST_MODELS = {"channel": Channel, "tag": Tag}


def add_list_item(kind, name, *, actor, now=None):
    """Add a source channel or a tag (names are unique)."""
    model = LIST_MODELS.get(kind)
    if model is None:
        raise InvalidInput(_("Unknown list."))
    name = (name or "").strip()
    if not name or len(name) > 30:
        raise InvalidInput(_("Enter a name of at most 30 characters."), field="name")
    if db.session.scalar(select(model).where(model.name == name)) is not None:
        raise Conflict(_("%(name)s is already on the list.", name=name), field="name")
    item = model(name=name)
    db.session.add(item)
    db.session.flush()
    audit(actor, f"customer.{kind}_add", item, summary=name, now=now)
    return item


def toggle_list_item(kind, item_id, *, actor, now=None):
    """Stop offering a channel or tag (customers keep it), or offer it again."""
    model = LIST_MODELS.get(kind)
    item = db.session.get(model, item_id) if model else None
    if item is None:
        raise NotFound(_("Not found, or not yours to see."))
    item.is_active = not item.is_active
    db.session.flush()
    audit(actor, f"customer.{kind}_toggle", item, summary=item.name, now=now)
    return item


def ensure_default_channels():
    """Create the standard source channels that do not exist yet; return how many."""
    existing = set(db.session.scalars(select(Channel.name)))
    missing = [name for name in DEFAULT_CHANNELS if name not in existing]
    for sort, name in enumerate(DEFAULT_CHANNELS):
        if name in missing:
            db.session.add(Channel(name=name, sort=sort))
    db.session.flush()
    return len(missing)


def _active_marketers(query, actor):
    query = query.where(User.is_active, User.role_rows.any(role="marketer"))
    if actor is not None and not actor.has_role("admin", "manager") and \
            actor.has_role("dept_head"):
        query = query.where(User.department_id.in_(department_subtree_ids(actor.department_id)))
    return query.order_by(User.display_name, User.id)


def active_marketers(actor=None):
    """Active marketers, limited to a department head's department when `actor` is one."""
    return db.session.scalars(_active_marketers(select(User), actor)).all()


def active_marketer_names(actor=None):
    """[(id, name, department name or None)] of active_marketers, for the lists' choices: rows,
    not users (2,000 marketers loaded as users with their departments took 40 ms)."""
    return db.session.execute(_active_marketers(
        select(User.id, User.display_name, Department.name).outerjoin(
            Department, Department.id == User.department_id), actor)).all()


def _customers_follow_their_owner(user, old_department_id, actor, now):
    """A marketer who moves department takes their customers along (department heads see
    the customers of their department's marketers)."""
    moved = db.session.execute(
        update(Customer).where(Customer.owner_id == user.id, Customer.status != "pool")
        .values(department_id=user.department_id)
        .execution_options(synchronize_session="fetch")).rowcount
    if moved:
        audit(actor, "customer.department", user, summary=_(
            "%(n)s customers moved with %(name)s to the new department", n=moved,
            name=user.display_name), now=now)


DEPARTMENT_CHANGE_HANDLERS.append(_customers_follow_their_owner)

register_actions({
    "customer.department": _l("Customers followed their owner to a department"),
    "customer.create": _l("Registered customer"),
    "customer.update": _l("Changed customer"),
    "customer.show_phone": _l("Viewed full phone number"),
    "customer.transfer": _l("Transferred customer"),
    "customer.release": _l("Released to the pool"),
    "customer.claim": _l("Claimed from the pool"),
    "customer.assign": _l("Assigned from the pool"),
    "customer.reclaim": _l("Reclaimed to the pool"),
    "customer.export": _l("Exported customers"),
    "customer.import": _l("Imported customers"),
    "customer.channel_add": _l("Added source channel"),
    "customer.channel_toggle": _l("Switched source channel"),
    "customer.tag_add": _l("Added tag"),
    "customer.tag_toggle": _l("Switched tag"),
})
register_targets({"customers": _l("Customer"), "channels": _l("Source channel"),
                  "tags": _l("Tag")})
register_fields({"owner": _l("Owner"), "name": _l("Name"), "phone": _l("Mobile"),
                 "grade": _l("Grade"), "do_not_call": _l("Do not call"),
                 "do_not_sms": _l("Do not SMS")})

define_area("customers", _l("Customers and public pool"))
define("customers.claims_per_day", "int", 10, _l("Claims per marketer per day"),
       _l("How many customers a marketer may claim from the public pool each day."),
       min=0, max=1000)
define("customers.max_owned", "int", 2000, _l("Most customers one marketer may own"),
       _l("A marketer at this number cannot claim more from the pool."), min=1, max=100000)
define("customers.pool_days", "int", 180, _l("Has bought: days without follow-up before the pool"),
       _l("Customers who have bought and whom nobody followed up for this many days go to the "
          "public pool at night (unless arrears, held goods or a planned task protect them)."),
       min=1, max=3650)
define("customers.import_max_rows", "int", 20000, _l("Most rows in one import"),
       _l("Larger spreadsheets must be split."), min=1, max=200000)
define("customers.export_roles", "roles", ["admin", "manager"],
       _l("Roles that may export customers"),
       _l("Every export is recorded in the audit log."), choices=tuple(ROLES.items()))


# --- Timeline ----------------------------------------------------------------------------------

@register_provider
def _contact_items(customer, limit):
    logs = db.session.scalars(select(ContactLog).where(ContactLog.customer_id == customer.id)
                              .order_by(ContactLog.at.desc()).limit(limit))
    items = []
    for log in logs:
        detail = log.content
        if log.outcome:
            detail += f"（{log.outcome}）"
        if log.next_follow_up:
            detail += " · " + _("next follow-up %(date)s", date=log.next_follow_up.isoformat())
        items.append(TimelineItem(at=log.at, kind=f"contact.{log.kind}",
                                  title=str(CONTACT_KINDS[log.kind]), detail=detail,
                                  actor=log.actor.display_name))
    return items


@register_provider
def _ownership_items(customer, limit):
    changes = db.session.scalars(select(OwnershipChange).where(
        OwnershipChange.customer_id == customer.id).order_by(OwnershipChange.at.desc())
        .limit(limit))
    items = []
    for change in changes:
        before = change.from_owner.display_name if change.from_owner else _("Public pool")
        after = change.to_owner.display_name if change.to_owner else _("Public pool")
        detail = after if change.kind == "create" else f"{before} → {after}"
        if change.reason:
            detail += f"（{change.reason}）"
        items.append(TimelineItem(at=change.at, kind=f"ownership.{change.kind}",
                                  title=str(OWNERSHIP_KINDS[change.kind]), detail=detail,
                                  actor=change.actor.display_name if change.actor
                                  else _("System")))
    return items

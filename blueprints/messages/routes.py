"""Messages to customers (issue #28): the templates an administrator writes (with a live
preview for a real customer), the outbox (filtered, a keyset page at a time, a queued message
cancelled), a bulk send from an event's invitation list (previewed, then confirmed once), and
one message from a customer's page or a task. The rules live in models/messages.py."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.access import can, role_required, safe_next
from blueprints.forms import attempt, refusal_status, run_operation
from blueprints.messages.forms import (BulkConfirmForm, BulkForm, CancelForm,
                                       CustomerMessageForm, OutboxFilterForm, PreviewForm,
                                       TemplateForm)
from jobs import sending
from models import customers as c, events as ev, messages as m
from models.base import InvalidInput, OperationError

bp = Blueprint("messages", __name__, url_prefix="/messages")

#: Who sends messages and reads the outbox (their customers' messages: models.scoping).
SENDERS = ("admin", "manager", "dept_head", "marketer")
#: Who reads the templates; only an administrator writes them.
TEMPLATE_READERS = ("admin", "manager")


# ---- templates ----------------------------------------------------------------------------

@bp.get("/templates")
@role_required(*TEMPLATE_READERS)
def templates():
    return render_template("messages/templates.html", templates=m.visible_templates(),
                           sms_length=m.sms_length)


def _template_page(form, template=None, status=200):
    customer = _preview_customer(form.customer_id.data)
    preview = m.preview_text(form.body.data, customer, form.channel.data)
    return render_template("messages/template.html", form=form, template=template,
                           preview=preview, fields=m.FIELDS,
                           may_save=can("messages.save_template")), status


def _preview_customer(customer_id):
    """The customer a preview is shown for, if `customer_id` is one the user may see."""
    if not customer_id:
        return None
    try:
        return c.get_customer_or_404(customer_id, current_user)
    except OperationError:
        return None


@bp.route("/templates/new", methods=["GET", "POST"])
@role_required("admin")
def new_template():
    form = TemplateForm(current_user)
    if request.method == "GET":
        form.customer_id.data = form.customer_id.choices[0].value \
            if form.customer_id.choices else 0
        return _template_page(form)
    return _save(form, None)


@bp.get("/templates/<int:template_id>")
@role_required(*TEMPLATE_READERS)
def template(template_id):
    row = m.get_template_or_404(template_id)
    form = TemplateForm(current_user, obj=row, formdata=None)
    form.customer_id.data = form.customer_id.choices[0].value if form.customer_id.choices else 0
    return _template_page(form, row)


@bp.post("/templates/<int:template_id>")
@role_required("admin")
def save_template(template_id):
    return _save(TemplateForm(current_user), m.get_template_or_404(template_id))


def _save(form, row):
    if not form.validate_on_submit():
        return _template_page(form, row, refusal_status(form))
    with attempt(form) as tried:
        saved = m.save_template(row, name=form.name.data, body=form.body.data,
                                purpose=form.purpose.data, channel=form.channel.data,
                                provider_code=form.provider_code.data,
                                is_active=form.is_active.data, actor=current_user)
    if tried.refusal:
        return _template_page(form, row, tried.status)
    flash(_("Template %(name)s saved.", name=saved.name), "success")
    return redirect(url_for("messages.templates"))


@bp.get("/preview")
@role_required(*SENDERS)
def preview():
    """The live preview (a fragment): the text as the chosen customer would read it, its
    length in characters and SMS parts, or why it cannot be sent."""
    form = PreviewForm(request.args)
    form.validate()
    body = form.body.data or form.text.data
    if not body and form.template_id.data:
        try:
            body = m.get_template_or_404(form.template_id.data).body
        except OperationError:
            body = ""
    shown = m.preview_text(body, _preview_customer(form.customer_id.data),
                           form.channel.data or "sms")
    return render_template("messages/_preview.html", preview=shown)


# ---- the outbox ---------------------------------------------------------------------------

@bp.get("/")
@role_required(*SENDERS)
def outbox():
    form = OutboxFilterForm(current_user, request.args)
    form.validate()
    page = m.outbox_page(current_user, form.filters())
    args = {k: v for k, v in request.args.items() if k != "before" and v and k in form}
    return render_template("messages/outbox.html", form=form, page=page, args=args,
                           cancel_form=CancelForm(formdata=None, next=request.full_path),
                           provider_problem=sending.provider_problem())


@bp.post("/<int:message_id>/cancel")
@role_required(*SENDERS)
def cancel(message_id):
    message = m.get_message_or_404(message_id, current_user)
    form = CancelForm()
    if not form.validate_on_submit():
        flash(_("This form has expired. Reload the page and try again."), "danger")
    else:
        run_operation(lambda: m.cancel_message(message, actor=current_user),
                      _("The message to %(name)s is cancelled.", name=message.customer.name))
    return redirect(safe_next(form.next.data, url_for("messages.outbox")))


# ---- bulk send from an event's invitation list ----------------------------------------------

def _bulk(event, form):
    """The template, channel and customers a bulk send form names (a template is needed)."""
    template = m.get_template_or_404(form.template_id.data) if form.template_id.data else None
    if template is None:
        return None, "", []
    channel = form.channel.data or template.channel
    customers = m.bulk_recipients(event, current_user, who=form.who.data or "confirmed",
                                  status=form.status.data or "", inviter_id=form.inviter.data)
    return template, channel, customers


@bp.get("/events/<int:event_id>/send")
@role_required(*SENDERS)
def event_send(event_id):
    """Choose a template and whom; the preview (count, refusals with reasons, the first texts,
    the cost) shows below, with the button that queues them."""
    event = ev.get_event_or_404(event_id, current_user)
    form = BulkForm(request.args)
    form.validate()
    return _bulk_page(event, form)


def _bulk_page(event, form, confirm=None, status=200):
    preview, error = None, ""
    try:
        template, channel, customers = _bulk(event, form)
        if template is not None:
            preview = m.preview_bulk(event, template, customers, channel=channel)
    except OperationError as refusal:
        error = refusal.message
    if confirm is None:
        confirm = BulkConfirmForm(formdata=None, data={
            "template_id": form.template_id.data, "channel": form.channel.data,
            "who": form.who.data, "status": form.status.data, "inviter": form.inviter.data})
    return render_template("messages/event_send.html", event=event, form=form,
                           confirm=confirm, preview=preview, error=error,
                           statuses=ev.INVITATION_STATUSES), status


@bp.post("/events/<int:event_id>/send")
@role_required(*SENDERS)
def event_queue(event_id):
    event = ev.get_event_or_404(event_id, current_user)
    form = BulkConfirmForm()
    if not form.validate_on_submit():
        return _bulk_page(event, form, form, refusal_status(form))
    with attempt(form) as tried:
        template, channel, customers = _bulk(event, form)
        if template is None:
            raise InvalidInput(_("Choose a template."), field="template_id")
        queued, refused = m.queue_bulk(event, template, customers, channel=channel,
                                       actor=current_user)
    if tried.refusal:
        return _bulk_page(event, form, form, tried.status)
    if queued:
        flash(_("%(n)s messages queued; %(refused)s not sent.", n=len(queued),
                refused=len(refused)), "success")
    else:
        flash(_("No message queued: every guest was refused (already sent, 勿发短信, no "
                "mobile or the day's cap)."), "warning")
    return redirect(url_for("messages.outbox", event_id=event.id))


# ---- one message to one customer ----------------------------------------------------------

@bp.route("/customers/<int:customer_id>/new", methods=["GET", "POST"])
@role_required(*SENDERS)
def customer_message(customer_id):
    """One message from a customer's page (or a task): a template's text or free text."""
    customer = c.get_customer_or_404(customer_id, current_user)
    back = safe_next(request.form.get("next") or request.args.get("next"),
                     url_for("customers.show", customer_id=customer.id))
    form = CustomerMessageForm(next=back)  # carried through a refused post as it came
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            with attempt(form) as tried:
                template = m.get_template_or_404(form.template_id.data) \
                    if form.template_id.data else None
                message = m.queue_customer_message(
                    customer, template=template, text=form.text.data,
                    channel=form.channel.data or "sms", actor=current_user,
                    token=form.token.data)
            if not tried.refusal:
                flash(_("Message to %(name)s queued (%(channel)s).", name=customer.name,
                        channel=message.channel_label), "success")
                return redirect(back)
            status = tried.status
        else:
            status = refusal_status(form)
    refusal = _refusal_now(customer, form.channel.data or "sms")
    return render_template("messages/customer_message.html", customer=customer, form=form,
                           back=back, refusal=refusal,
                           preview=m.preview_text(form.text.data or _template_body(form),
                                                  customer, form.channel.data)), status


def _template_body(form):
    try:
        return m.get_template_or_404(form.template_id.data).body if form.template_id.data \
            else ""
    except OperationError:
        return ""


def _refusal_now(customer, channel):
    """Why an SMS to this customer would be refused whatever the text (勿发短信, no mobile)."""
    if customer.do_not_sms:
        return _("%(name)s does not want SMS (勿发短信).", name=customer.name)
    if not m.has_mobile(customer):
        return _("%(name)s has no mobile number.", name=customer.name)
    return ""

"""The operation guide (帮助): a page per role with its five daily things, and the printable
quick-start card. Every signed-in user may read every role's guide (training, covering)."""
from flask import Blueprint, abort, render_template
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.files import file_name, send_download
from blueprints.guide.content import GUIDES
from blueprints.guide.help import help_target
from models.accounts import ROLES
from models.base import utcnow
from reports import quick_start

bp = Blueprint("guide", __name__, url_prefix="/guide")


def _guide_or_404(role):
    guide = GUIDES.get(role)
    if guide is None:
        abort(404)
    return guide


@bp.get("/")
def index():
    """Every role's guide, the user's own first."""
    mine, _anchor = help_target(None, current_user)
    guides = sorted(GUIDES.values(), key=lambda guide: guide.role != mine)
    return render_template("guide/index.html", guides=guides, ROLES=ROLES)


@bp.get("/<role>")
def role(role):
    """One role's guide: its five daily things, step by step, each with a screenshot."""
    guide = _guide_or_404(role)
    return render_template("guide/role.html", guide=guide, guides=GUIDES.values(),
                           role_label=ROLES[guide.role])


@bp.get("/<role>/card.pdf")
def card(role):
    """The role's one-page quick-start card (A4) for the training day."""
    guide = _guide_or_404(role)
    data = quick_start.gather(guide, role_label=ROLES[guide.role],
                              printed_by=current_user.display_name, printed_at=utcnow())
    return send_download(quick_start.build(data),
                         file_name(_("Quick-start card"), str(ROLES[guide.role]), ext=".pdf"))

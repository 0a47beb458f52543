"""A role's quick-start card (上手卡): one A4 page with the five things the role does every day,
each with its steps and a small screenshot, for the training day."""
from flask_babel import gettext as _

from reports import render_pdf


def gather(guide, *, role_label, printed_by, printed_at):
    """Plain data of the card: `guide` is a blueprints.guide.content.RoleGuide (passed in: the
    guide's words live with the pages that show them)."""
    return {"title": _("Quick-start card: %(role)s", role=role_label), "intro": guide.intro,
            "tasks": [{"number": task.number, "title": task.title, "steps": list(task.steps),
                       "tip": task.tip, "image": f"guide/{guide.role}/{task.image}"}
                      for task in guide.tasks],
            "printed_by": printed_by, "printed_at": printed_at}


def build(data):
    return render_pdf("print/quick_start.html", data)

"""Forms of the home page."""
from blueprints.forms import BaseForm


class ConfirmForm(BaseForm):
    """A bare form (CSRF only) for the checklist's buttons: settings reviewed, put away."""

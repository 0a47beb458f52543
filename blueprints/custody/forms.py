"""The forms of the custody counter: a pickup (a quantity per held line, who collected it) and
a reversal's reason."""
from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import Length

from blueprints.forms import BaseForm, IdField, QuantitiesField, TokenField


class PickupForm(BaseForm):
    token = TokenField()
    #: {order line id: quantity} from the "line-<id>" inputs.
    lines = QuantitiesField(_l("Quantity"), prefix="line-")
    #: {(redemption id, product id): quantity} from the "redeemed-<id>-<id>" inputs.
    redeemed = QuantitiesField(_l("Quantity"), prefix="redeemed-", parts=2)
    #: {opening holding id: quantity} from the "opening-<id>" inputs (held since the move-in).
    opening = QuantitiesField(_l("Quantity"), prefix="opening-")
    #: The event the goods are handed over at (event staff at the door), if any.
    event_id = IdField(_l("Event"), required=False)
    collected_by = StringField(_l("Collected by"), validators=[Length(max=40)])
    relation = StringField(_l("Relation"), validators=[Length(max=20)])
    release_reason = StringField(_l("Released before payment because"),
                                 validators=[Length(max=200)])

    def entered(self):
        """What was typed on each line, to show again with a refusal."""
        return {**self.lines.entered, **self.redeemed.entered, **self.opening.entered}


class ReasonForm(BaseForm):
    reason = StringField(_l("Reason"), validators=[Length(max=200)])

"""The forms of the Consents tab: a consent given in person, and its withdrawal on the survivor's
word. What they accept matches ``ConsentRecordSchema``; the service checks the rest (the agency,
how long a consent may last) exactly as it does for ``/v1``."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length

from coordination.schemas import PURPOSE_MAX
from coordination.vocab import CONSENT_KIND_TEXT, CONSENT_KINDS


class ConsentForm(FlaskForm):
    # The choices are the agencies a survivor may choose from, set by the view.
    agency_id = SelectField("Agency", choices=[], validators=[DataRequired()])
    kinds = SelectMultipleField(
        "What Lantern may tell them",
        choices=[SelectChoice(k, CONSENT_KIND_TEXT[k]) for k in CONSENT_KINDS],
        validators=[DataRequired()],
    )
    purpose = TextAreaField(
        "Why, in a few words", validators=[DataRequired(), Length(max=PURPOSE_MAX)]
    )
    ends_on = DateField("Ends on", validators=[DataRequired()])


class RevokeConsentForm(FlaskForm):
    confirm = BooleanField(
        "The survivor asked to withdraw this consent", validators=[DataRequired()]
    )

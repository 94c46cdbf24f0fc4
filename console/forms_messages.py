"""The forms of a survivor's conversation in the console: a message, and the fresh code that
reading or sending it needs (step-up). Lengths match the API's schemas."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from console.forms import CODE_MAX
from messaging.conversations import MAX_BODY_CHARS

CODE_LABEL = "Code from your authenticator app"


class StepUpForm(FlaskForm):
    code = StringField(CODE_LABEL, validators=[DataRequired(), Length(max=CODE_MAX)])


class MessageForm(FlaskForm):
    body = TextAreaField("Message", validators=[DataRequired(), Length(max=MAX_BODY_CHARS)])
    # Asked for only when the step-up has lapsed since the page was shown: the message is
    # sent with the code, so nothing typed is lost to a second round trip.
    code = StringField(CODE_LABEL, validators=[Optional(), Length(max=CODE_MAX)])

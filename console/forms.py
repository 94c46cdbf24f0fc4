"""The console's forms (WTForms through Flask-WTF: each carries the CSRF token).

Lengths match the API's schemas, so that a page refuses what ``/v1`` refuses. Control
characters never get this far: ``console.pages`` refuses a form holding any (``check_form``).
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from auth.staff.passwords import MAX_LENGTH as PASSWORD_MAX

CODE_MAX = 64


class SignInForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=PASSWORD_MAX)])


class CodeForm(FlaskForm):
    code = StringField("Authenticator code", validators=[Optional(), Length(max=CODE_MAX)])
    recovery_code = StringField("Recovery code", validators=[Optional(), Length(max=CODE_MAX)])


class EnrolForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app", validators=[DataRequired(), Length(max=CODE_MAX)]
    )


class PlainForm(FlaskForm):
    """A form with nothing but its CSRF token (sign out, acknowledge, start enrolment)."""


class ResolveForm(FlaskForm):
    note = TextAreaField("What was done", validators=[DataRequired(), Length(max=4000)])


class DutyForm(FlaskForm):
    on_duty = BooleanField("On duty")


class CaseloadSearchForm(FlaskForm):
    q = StringField("Case label contains", validators=[Optional(), Length(max=80)])


class CaseLabelForm(FlaskForm):
    case_label = StringField("Case label", validators=[Optional(), Length(max=80)])


# --- My account (console.routes.account): the API's own schemas' bounds --------------------

# ``auth.staff.schemas``: a code is at most 32 characters, a new password at most twice the
# policy's maximum (so that the policy, not the form, explains a long one), a phone 4 to 32.
ACCOUNT_CODE_MAX = 32
NOT_A_PHONE = "Not a valid phone number."


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=PASSWORD_MAX)]
    )
    code = StringField(
        "Code from your authenticator app",
        validators=[DataRequired(), Length(max=ACCOUNT_CODE_MAX)],
    )
    new_password = PasswordField(
        "New password", validators=[DataRequired(), Length(max=PASSWORD_MAX * 2)]
    )
    new_password_again = PasswordField(
        "New password again", validators=[DataRequired(), Length(max=PASSWORD_MAX * 2)]
    )


class AuthenticatorResetForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=PASSWORD_MAX)]
    )
    code = StringField(
        "Code from your authenticator app", validators=[Optional(), Length(max=ACCOUNT_CODE_MAX)]
    )
    recovery_code = StringField(
        "Recovery code", validators=[Optional(), Length(max=ACCOUNT_CODE_MAX)]
    )


class DutyPhoneForm(FlaskForm):
    phone = StringField(
        "New phone number", validators=[Optional(), Length(min=4, max=32, message=NOT_A_PHONE)]
    )
    on_duty = BooleanField("On duty")

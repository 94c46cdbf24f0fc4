"""The safety plan's forms: the whole plan as rows of items (one list of rows per section), and
the small forms that name a version (restore, add a recommendation, compare two versions).

A plan form carries the ETag of the version it was filled from, as the API's If-Match would;
the service decides whether it still names the current version. Lengths are the API's
(``safety_plans.sections``); the view also loads the result with the API's own schema.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from safety_plans.sections import (
    CHECKLIST_SECTIONS,
    CODE_WORD_SECTIONS,
    MAX_CODE_WORD,
    MAX_ITEM_TEXT,
    MAX_ITEMS_PER_SECTION,
    SECTIONS,
    Item,
    Sections,
)

# Empty rows under each section for new items (a page without script cannot add rows).
BLANK_ROWS = 2
ETAG_MAX = 100
RECOMMENDATION_MAX = 64


def _lf(value: str | None) -> str | None:
    # Browsers send a textarea's line breaks as CRLF; the plan stores what the app stores.
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


class ItemForm(Form):
    """One item: its text, its done-or-not state when it has one, its contact's code word."""

    text = TextAreaField("Item", filters=[_lf], validators=[Optional(), Length(max=MAX_ITEM_TEXT)])
    checklist = HiddenField()  # "1" when the item is on a checklist (done or not done)
    checked = BooleanField("Done")
    code_word = StringField("Code word", validators=[Optional(), Length(max=MAX_CODE_WORD)])

    def validate_code_word(self, field: StringField) -> None:
        if field.data and not (self.text.data or "").strip():
            raise ValidationError("A code word needs the contact it belongs to: write who it is.")


class PlanForm(FlaskForm):
    """The whole plan; a field list per section is added below, one per ``SECTIONS`` name."""

    etag = HiddenField(validators=[DataRequired(), Length(max=ETAG_MAX)])


for _name in SECTIONS:
    # More rows than a page shows are a forged post: WTForms keeps the first ones only.
    setattr(
        PlanForm,
        _name,
        FieldList(FormField(ItemForm), max_entries=MAX_ITEMS_PER_SECTION + BLANK_ROWS),
    )


def _row(item: Item) -> dict[str, Any]:
    return {
        "text": item["text"],
        "checklist": "1" if "checked" in item else "",
        "checked": bool(item.get("checked")),
        "code_word": item.get("code_word") or "",
    }


def plan_form(etag: str, sections: Sections, *, blank: int = BLANK_ROWS) -> PlanForm:
    """A plan form filled from ``sections``, with ``blank`` empty rows under each section."""
    data: dict[str, Any] = {"etag": etag}
    for name in SECTIONS:
        blank_row = {"checklist": "1" if name in CHECKLIST_SECTIONS else ""}
        data[name] = [_row(item) for item in sections.get(name, [])] + [blank_row] * blank
    return PlanForm(formdata=None, data=data)


def sections_of(form: PlanForm) -> Sections:
    """The plan a submitted form holds: a row left empty is no item (so clearing one removes it)."""
    out: Sections = {}
    for name in SECTIONS:
        items: list[Item] = []
        for entry in getattr(form, name).entries:
            row = entry.form
            text = row.text.data or ""
            if not text.strip():
                continue
            item: Item = {"text": text}
            if row.checklist.data == "1":
                item["checked"] = bool(row.checked.data)
            if name in CODE_WORD_SECTIONS:
                item["code_word"] = row.code_word.data or ""
            items.append(item)
        out[name] = items
    return out


def form_errors(form: PlanForm) -> list[str]:
    """Each problem once, in the form's order (the rows show their own next to them)."""
    found: list[str] = []
    for field in form:
        for message in _messages(field.errors):
            if message not in found:
                found.append(message)
    return found


def _messages(errors: Any) -> list[str]:
    if isinstance(errors, str):
        return [errors]
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in _messages(value)]
    if isinstance(errors, list | tuple):
        return [m for value in errors for m in _messages(value)]
    return []


class EtagForm(FlaskForm):
    """A write that names the version it was based on (restoring an old version)."""

    etag = HiddenField(validators=[DataRequired(), Length(max=ETAG_MAX)])


class AdoptForm(EtagForm):
    recommendation_id = HiddenField(validators=[DataRequired(), Length(max=RECOMMENDATION_MAX)])


class DiffForm(FlaskForm):
    """Two versions to compare, by id only (it is sent in the address: no content there)."""

    class Meta:
        csrf = False  # a read, sent with GET

    old = SelectField("Older version", validators=[DataRequired()])
    new = SelectField("Newer version", validators=[DataRequired()])

"""The risk assessment form: one field per item of the instrument taken, named ``answer-<item
id>``, beside the WTForms fields every assessment has.

The instrument is data, so the answer fields are too: they are read here into the answers
mapping the API's staff assessment endpoint loads (``StaffAssessmentCreateSchema``), with the
same bounds, and ``safety_plans.assessments.take`` checks them against the instrument exactly
as it checks the API's. Anything else in the form is refused whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from core.errors import InvalidInput
from safety_plans.instruments import Answer

ANSWER_PREFIX = "answer-"
# The API's bounds on the answers mapping (safety_plans.schemas: ``_answers``, ``AnswerField``).
MAX_ANSWERS = 200
MAX_ITEM_ID = 64
MAX_ANSWER = 16
# A whole number as a number field sends it; anything else goes to the engine as text, which
# refuses it for a number item ("Answer with a whole number"). Nine digits: never a huge int.
_WHOLE = re.compile(r"[0-9]{1,9}")


class AssessmentForm(FlaskForm):
    instrument_id = HiddenField("Instrument", validators=[DataRequired(), Length(max=64)])
    professional_judgement = StringField(
        "Professional judgement", validators=[Optional(), Length(max=64)]
    )
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])


def _refuse(errors: dict[str, list[str]]) -> InvalidInput:
    return InvalidInput("some answers are not valid", errors={"answers": errors})


def read_answers(form: MultiDict[str, str], known: Iterable[str]) -> dict[str, Answer]:
    """The answers posted, by item id; a field the form never had, a repeated field or an
    answer longer than any answer is refused (422) before the service sees anything."""
    fields = set(known)
    unknown = sorted(key for key in form if key not in fields and not key.startswith(ANSWER_PREFIX))
    if unknown:
        raise InvalidInput(
            "the form has fields it never showed", errors={"form": ["Unexpected fields."]}
        )
    answers: dict[str, Answer] = {}
    errors: dict[str, list[str]] = {}
    for key, values in form.lists():
        if not key.startswith(ANSWER_PREFIX):
            continue
        item_id = key.removeprefix(ANSWER_PREFIX)
        if not item_id or len(item_id) > MAX_ITEM_ID:
            raise _refuse({"form": ["Not an item of this instrument."]})
        if len(values) != 1:
            errors[item_id] = ["Give one answer."]
            continue
        value = values[0].strip()
        if not value:
            continue  # left blank: not answered (the engine says whether it had to be)
        if len(value) > MAX_ANSWER:
            errors[item_id] = ["Answer with yes, no, unknown or a whole number."]
            continue
        answers[item_id] = int(value) if _WHOLE.fullmatch(value) else value
    if errors:
        raise _refuse(errors)
    if len(answers) > MAX_ANSWERS:
        raise _refuse({"form": ["Too many answers."]})
    return answers


def field_errors(error: InvalidInput) -> dict[str, list[str]]:
    """An ``InvalidInput``'s errors by the form field they belong to (``answer-q1``, ``notes``),
    for the form shown again; what names no field is under ``form``."""
    raw = error.extra.get("errors") or {}
    out: dict[str, list[str]] = {}
    for name, messages in raw.items():
        if name == "answers" and isinstance(messages, dict):
            for item_id, item_messages in messages.items():
                out.setdefault(ANSWER_PREFIX + str(item_id), []).extend(
                    str(m) for m in item_messages
                )
        elif isinstance(messages, list):
            out.setdefault(str(name), []).extend(str(m) for m in messages)
        else:
            out.setdefault("form", []).append(str(messages))
    return out

"""Risk instruments as data, and the one scoring engine all of them use.

An instrument is a JSON file (``safety_plans/instruments/*.json``, plus any directory named by
``LANTERN_EXTRA_INSTRUMENTS_PATH``) validated against ``InstrumentSchema`` when the app starts:
items with answer types and weights, bands by minimum score, and triggers (rules that flag
something or raise the band). Professional judgement may raise the band, never lower it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from core.errors import ConfigurationError, InvalidInput
from core.schemas import Schema
from core.schemas import text as bounded

BUILTIN_DIR = Path(__file__).resolve().parent / "instruments"
ANSWER_TYPES = ("yes_no", "yes_no_unknown", "number")
RULE_KINDS = ("any_yes", "count_yes", "score_at_least", "number_at_least")
MAX_NUMBER_ANSWER = 10_000
_SLUG = validate.Regexp(r"^[a-z0-9][a-z0-9_\-]{0,63}$")


class ItemSpec(Schema):
    id = fields.String(required=True, validate=_SLUG)
    text = bounded(2000)
    answer_type = fields.String(required=True, validate=validate.OneOf(ANSWER_TYPES))
    weight = fields.Float(load_default=1.0, validate=validate.Range(min=0, max=1000))
    # Whether the item adds to the score (an incident count read by a trigger does not).
    counts = fields.Boolean(load_default=True)
    required = fields.Boolean(load_default=True)
    guidance = bounded(2000, required=False)


class BandSpec(Schema):
    name = fields.String(required=True, validate=_SLUG)
    # None: the band is reached only through a trigger or professional judgement.
    min_score = fields.Float(required=True, allow_none=True)
    level = fields.String(required=True, validate=validate.OneOf(("standard", "elevated", "high")))
    description = bounded(1000)


class RuleSpec(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(RULE_KINDS))
    items = fields.List(fields.String(validate=_SLUG), load_default=list)
    item = fields.String(validate=_SLUG)
    min = fields.Float(load_default=1.0)


class TriggerSpec(Schema):
    id = fields.String(required=True, validate=_SLUG)
    description = bounded(1000)
    rule = fields.Nested(RuleSpec, required=True)
    sets_band = fields.String(load_default=None, allow_none=True)
    # A criterion for referral to a MARAC (or the local equivalent) and an urgent alert.
    referral = fields.Boolean(load_default=False)


class JudgementSpec(Schema):
    allowed = fields.Boolean(required=True)
    description = bounded(1000)


class InstrumentSchema(Schema):
    id = fields.String(required=True, validate=_SLUG)
    version = bounded(64)
    title = bounded(200)
    source_url = fields.Url(required=True, schemes={"https", "http"})
    attribution = bounded(2000)
    licence_note = bounded(2000)
    scoring = fields.String(required=True, validate=validate.OneOf(("count_yes", "weighted_sum")))
    items = fields.List(
        fields.Nested(ItemSpec), required=True, validate=validate.Length(min=1, max=200)
    )
    bands = fields.List(
        fields.Nested(BandSpec), required=True, validate=validate.Length(min=1, max=20)
    )
    triggers = fields.List(fields.Nested(TriggerSpec), load_default=list)
    professional_judgement = fields.Nested(JudgementSpec, load_default=None, allow_none=True)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_kwargs: Any) -> None:
        items = {i["id"]: i for i in data["items"]}
        if len(items) != len(data["items"]):
            raise ma.ValidationError("item ids must be unique", "items")
        bands = [b["name"] for b in data["bands"]]
        if len(set(bands)) != len(bands):
            raise ma.ValidationError("band names must be unique", "bands")
        mins = [b["min_score"] for b in data["bands"] if b["min_score"] is not None]
        if not mins or mins[0] != 0 or mins != sorted(mins) or len(set(mins)) != len(mins):
            raise ma.ValidationError(
                "bands are listed lowest first; the first scored band starts at 0", "bands"
            )
        for trigger in data["triggers"]:
            rule = trigger["rule"]
            named = list(rule["items"]) + ([rule["item"]] if "item" in rule else [])
            if any(name not in items for name in named):
                raise ma.ValidationError(
                    f"trigger {trigger['id']} names an unknown item", "triggers"
                )
            if rule["kind"] in ("any_yes", "count_yes") and not rule["items"]:
                raise ma.ValidationError(f"trigger {trigger['id']} needs items", "triggers")
            if rule["kind"] == "number_at_least" and (
                "item" not in rule or items[rule["item"]]["answer_type"] != "number"
            ):
                raise ma.ValidationError(f"trigger {trigger['id']} needs a number item", "triggers")
            if trigger["sets_band"] is not None and trigger["sets_band"] not in bands:
                raise ma.ValidationError(
                    f"trigger {trigger['id']} names an unknown band", "triggers"
                )


class ItemSpecDict(TypedDict):
    """One item as ``ItemSpec`` loads it."""

    id: str
    text: str
    answer_type: str
    weight: float
    counts: bool
    required: bool
    guidance: NotRequired[str]


class BandSpecDict(TypedDict):
    """One band as ``BandSpec`` loads it."""

    name: str
    min_score: float | None
    level: str
    description: str


@dataclass(frozen=True, slots=True)
class Instrument:
    """A validated instrument. ``spec`` stays the loaded JSON, a dict: ``InstrumentSchema``
    dumps it as it is, and an instrument file is data whose triggers and judgement sections
    are read by key (typed views of its items and bands below)."""

    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.spec["id"])

    @property
    def items(self) -> list[ItemSpecDict]:
        return list(self.spec["items"])

    @property
    def band_names(self) -> list[str]:
        return [b["name"] for b in self.spec["bands"]]

    @property
    def highest_band(self) -> str:
        return self.band_names[-1]

    def band(self, name: str) -> BandSpecDict:
        band: BandSpecDict = next(b for b in self.spec["bands"] if b["name"] == name)
        return band

    def rank(self, band: str) -> int:
        return self.band_names.index(band)


def load_instrument(path: Path) -> Instrument:
    """Load and validate one instrument file; ConfigurationError names the file and the fault."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"instrument {path.name}: not readable JSON") from exc
    try:
        spec = InstrumentSchema().load(raw)
    except ma.ValidationError as exc:
        raise ConfigurationError(f"instrument {path.name}: {exc.messages}") from None
    return Instrument(spec)


#: Every instrument this process has loaded, by id.
Catalogue = Mapping[str, Instrument]


def load_catalogue(extra_dirs: Iterable[str | Path] = ()) -> dict[str, Instrument]:
    """Every built-in instrument plus those in ``extra_dirs``, by id (ids must be unique)."""
    catalogue: dict[str, Instrument] = {}
    for directory in (BUILTIN_DIR, *(Path(d) for d in extra_dirs if d)):
        if not Path(directory).is_dir():
            raise ConfigurationError(f"instrument directory {directory} does not exist")
        for path in sorted(Path(directory).glob("*.json")):
            instrument = load_instrument(path)
            if instrument.id in catalogue:
                raise ConfigurationError(f"instrument id {instrument.id!r} is defined twice")
            catalogue[instrument.id] = instrument
    return catalogue


# --- the engine -----------------------------------------------------------------------------

Answer = str | int


@dataclass(frozen=True, slots=True)
class Result:
    """What an assessment's answers come to (``ResultSchema``)."""

    instrument_id: str
    score: float
    computed_band: str
    band: str
    level: str
    raised_by_judgement: bool
    fired: tuple[str, ...]
    highest_band: bool
    referral: bool

    def to_json(self) -> str:
        """The result as it is sealed with its assessment (a JSON object of these fields)."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Result:
        data = json.loads(text)
        return cls(**{**data, "fired": tuple(data["fired"])})


def check_answers(instrument: Instrument, answers: Mapping[str, Answer]) -> dict[str, Answer]:
    """The answers, checked against the items; InvalidInput names each bad item."""
    errors: dict[str, list[str]] = {}
    items = {i["id"]: i for i in instrument.items}
    for key in answers:
        if key not in items:
            errors[key] = ["Not an item of this instrument."]
    for item_id, item in items.items():
        value = answers.get(item_id)
        kind = item["answer_type"]
        if value is None:
            if item["required"]:
                errors[item_id] = ["An answer is required."]
            continue
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int):
                errors[item_id] = ["Answer with a whole number."]
            elif not 0 <= value <= MAX_NUMBER_ANSWER:
                errors[item_id] = [f"Answer with a number from 0 to {MAX_NUMBER_ANSWER}."]
        else:
            allowed = ("yes", "no", "unknown") if kind == "yes_no_unknown" else ("yes", "no")
            if value not in allowed:
                errors[item_id] = [f"Answer with one of: {', '.join(allowed)}."]
    if errors:
        raise InvalidInput("some answers are not valid", errors={"answers": errors})
    return {k: v for k, v in answers.items() if v is not None}


def _is_yes(answers: Mapping[str, Answer], item_id: str) -> bool:
    return answers.get(item_id) == "yes"


def _score(instrument: Instrument, answers: Mapping[str, Answer]) -> float:
    total = 0.0
    weighted = instrument.spec["scoring"] == "weighted_sum"
    for item in instrument.items:
        if not item["counts"]:
            continue
        value = answers.get(item["id"])
        if item["answer_type"] == "number":
            if isinstance(value, int) and weighted:
                total += value * item["weight"]
        elif value == "yes":
            total += item["weight"] if weighted else 1
    return total


def _fires(rule: dict[str, Any], answers: Mapping[str, Answer], score: float) -> bool:
    kind = rule["kind"]
    if kind == "any_yes":
        return any(_is_yes(answers, i) for i in rule["items"])
    if kind == "count_yes":
        return sum(_is_yes(answers, i) for i in rule["items"]) >= float(rule["min"])
    if kind == "score_at_least":
        return score >= float(rule["min"])
    value = answers.get(rule["item"])  # number_at_least
    return isinstance(value, int) and value >= rule["min"]


def evaluate(
    instrument: Instrument,
    answers: Mapping[str, Answer],
    judgement_band: str | None = None,
) -> Result:
    """Score checked answers: band by score, raised by triggers, then by professional judgement."""
    answers = check_answers(instrument, answers)
    score = _score(instrument, answers)
    band = instrument.band_names[0]
    for spec in instrument.spec["bands"]:
        if spec["min_score"] is not None and score >= spec["min_score"]:
            band = spec["name"]
    fired = []
    referral = False
    for trigger in instrument.spec["triggers"]:
        if _fires(trigger["rule"], answers, score):
            fired.append(trigger["id"])
            referral = referral or trigger["referral"]
            if trigger["sets_band"] and instrument.rank(trigger["sets_band"]) > instrument.rank(
                band
            ):
                band = trigger["sets_band"]
    computed = band
    raised = False
    if judgement_band is not None:
        judgement = instrument.spec["professional_judgement"]
        if not judgement or not judgement["allowed"]:
            raise InvalidInput(
                "this instrument takes no professional judgement",
                errors={"professional_judgement": ["Not used by this instrument."]},
            )
        if judgement_band not in instrument.band_names:
            raise InvalidInput(
                "unknown band",
                errors={"professional_judgement": ["Not a band of this instrument."]},
            )
        # Judgement may raise the level, never lower it.
        if instrument.rank(judgement_band) > instrument.rank(band):
            band, raised = judgement_band, True
    highest = band == instrument.highest_band
    return Result(
        instrument_id=instrument.id,
        score=score,
        computed_band=computed,
        band=band,
        level=instrument.band(band)["level"],
        raised_by_judgement=raised,
        fired=tuple(fired),
        highest_band=highest,
        referral=referral or highest,
    )

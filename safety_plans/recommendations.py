"""Tailored recommendations (as myPlan does): risk level and stated priorities pick plan items.

The items are data (``recommendations.json``); an item matches when its ``levels`` is empty or
holds the level of the survivor's latest assessment, and its ``priorities`` is empty or shares
one with the survivor's. Items already in the plan are not recommended again.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from marshmallow import fields, validate
from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess
from core.clock import Clock
from core.errors import InvalidInput
from core.schemas import Schema
from safety_plans import assessments, plans, profile
from safety_plans.deps import SafetyPlansDeps
from safety_plans.plans import PlanView
from safety_plans.sections import CHECKLIST_SECTIONS, SECTIONS

DATA_FILE = Path(__file__).resolve().parent / "recommendations.json"
LEVELS = ("standard", "elevated", "high")


class _RecommendationSpec(Schema):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9\-]{1,64}$"))
    section = fields.String(required=True, validate=validate.OneOf(SECTIONS))
    text = fields.String(required=True, validate=validate.Length(min=1, max=500))
    priorities = fields.List(fields.String(validate=validate.OneOf(profile.PRIORITIES)))
    levels = fields.List(fields.String(validate=validate.OneOf(LEVELS)))


@dataclass(frozen=True, slots=True)
class Recommendation:
    id: str
    section: str
    text: str
    priorities: tuple[str, ...]
    levels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A recommendation not yet in the plan, and why it matched (``RecommendationSchema``)."""

    id: str
    section: str
    text: str
    because: list[str]


@dataclass(frozen=True, slots=True)
class Tailored:
    priorities: list[str]
    level: str | None
    recommendations: list[Suggestion]


@functools.cache
def catalogue() -> dict[str, Recommendation]:
    """The validated recommendation data, loaded once on first use."""
    raw = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    specs = _RecommendationSpec(many=True).load(raw)
    out = {
        s["id"]: Recommendation(
            s["id"], s["section"], s["text"], tuple(s["priorities"]), tuple(s["levels"])
        )
        for s in specs
    }
    if len(out) != len(specs):
        raise ValueError("recommendation ids must be unique")
    return out


def select_for(level: str | None, priorities: list[str]) -> list[tuple[Recommendation, list[str]]]:
    """Matching items and why each matched (pure: no database)."""
    chosen = []
    for rec in catalogue().values():
        if rec.levels and level not in rec.levels:
            continue
        shared = [p for p in rec.priorities if p in priorities]
        if rec.priorities and not shared:
            continue
        because = list(shared) + ([f"risk_level:{level}"] if rec.levels and level else [])
        chosen.append((rec, because or ["everyone"]))
    return chosen


def tailored(
    session: Session, access: SurvivorAccess, clock: Clock, deps: SafetyPlansDeps
) -> Tailored:
    priorities = profile.get_priorities(session, access, clock, deps)
    latest = assessments.latest_result(session, access, clock, deps)
    level = latest.result.level if latest else None
    present = {
        item["text"]
        for items in plans.get_plan(session, access, clock, deps).sections.values()
        for item in items
    }
    recs = [
        Suggestion(r.id, r.section, r.text, because)
        for r, because in select_for(level, priorities)
        if r.text not in present
    ]
    return Tailored(priorities, level, recs)


def adopt(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    *,
    if_match: str | None,
    recommendation_ids: list[str],
) -> PlanView:
    """Add the chosen recommendations to the plan as one new version (If-Match applies)."""
    known = catalogue()
    unknown = [rid for rid in recommendation_ids if rid not in known]
    if unknown:
        raise InvalidInput(
            "unknown recommendation", errors={"recommendation_ids": ["Unknown recommendation."]}
        )
    additions: dict[str, list[dict[str, object]]] = {}
    for rid in dict.fromkeys(recommendation_ids):
        rec = known[rid]
        item: dict[str, object] = {"text": rec.text}
        if rec.section in CHECKLIST_SECTIONS:
            item["checked"] = False
        additions.setdefault(rec.section, []).append(item)
    return plans.add_items(session, access, clock, deps, if_match=if_match, additions=additions)

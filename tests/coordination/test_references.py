"""Pseudonymous references: per agency, unlinkable, and resolvable only by their own agency."""

from __future__ import annotations

from coordination.references import ensure_reference, reference_for, resolve_reference
from tests.coordination.conftest import World


def test_two_agencies_get_different_references(world: World) -> None:
    ring = world.runtime.keyring
    police = reference_for(ring, world.police.id, world.survivor.id)
    refuge = reference_for(ring, world.refuge.id, world.survivor.id)
    assert police != refuge
    assert police.startswith("ref_")
    assert len(police) == 30
    assert str(world.survivor.id) not in police
    assert world.survivor.id.hex not in police
    # Stable: the same pair always gives the same reference.
    assert reference_for(ring, world.police.id, world.survivor.id) == police


def test_reference_resolves_only_for_its_own_agency(world: World) -> None:
    ring = world.runtime.keyring
    ref = ensure_reference(world.session, world.clock, ring, world.police.id, world.survivor.id)
    assert resolve_reference(world.session, ring, world.police.id, ref) == world.survivor.id
    assert resolve_reference(world.session, ring, world.refuge.id, ref) is None
    assert resolve_reference(world.session, ring, world.police.id, "ref_" + "a" * 26) is None
    # Ensuring twice keeps one row and one reference.
    assert (
        ensure_reference(world.session, world.clock, ring, world.police.id, world.survivor.id)
        == ref
    )

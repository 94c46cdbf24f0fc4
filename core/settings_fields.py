"""How a setting is declared, read from the environment and shown in the README's configuration
table: the machinery under ``core.settings``, which declares the settings themselves."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import field
from typing import Any

from core.errors import ConfigurationError

ENV_PREFIX = "LANTERN_"


def setting(
    default: Any,
    doc: str,
    production: str = "",
    secret: bool = False,
    minimum: float | None = None,
) -> Any:
    """A setting's declaration: its default, what it is, what production requires, whether it
    is secret (the README says so) and the least value it may take."""
    return field(
        default=default,
        metadata={"doc": doc, "production": production, "secret": secret, "minimum": minimum},
    )


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def parse_value(name: str, raw: str, kind: Any) -> Any:
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigurationError(f"{name} must be true or false")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigurationError(f"{name} must be a whole number") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigurationError(f"{name} must be a number") from None
    return raw


def _show_default(value: Any) -> str:
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if value == "":
        return "(empty)"
    return f"`{value}`"


def markdown_table(fields: Iterable[dataclasses.Field[Any]]) -> str:
    """The README's configuration table, one row per declared setting."""
    lines = [
        "| Variable | Default | What it is | Production |",
        "| --- | --- | --- | --- |",
    ]
    for f in fields:
        doc = f.metadata["doc"] + (" Secret." if f.metadata["secret"] else "")
        cells = (f"`{env_name(f.name)}`", _show_default(f.default), doc, f.metadata["production"])
        lines.append("| " + " | ".join(c.replace("|", "\\|") or "-" for c in cells) + " |")
    return "\n".join(lines) + "\n"

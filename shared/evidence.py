"""The evidence item: one typed, sourced signal behind a verdict."""
from __future__ import annotations

from typing import Any, Literal, TypedDict

from shared.signals import KINDS

Kind = Literal[KINDS]  # type: ignore[valid-type]  # the registry in shared/signals.py
Effect = Literal["fake", "real", "neutral"]


class Evidence(TypedDict, total=False):
    """One signal: what kind, which exact field or method, its value, which way it points, and why."""

    kind: Kind
    source: str
    value: Any
    effect: Effect
    reason: str
    weight: float  # contribution to a score, where the item feeds one
    strong: bool  # decisive provenance: makes the verdict fake regardless of the model


def item(kind: Kind, source: str, value: Any, effect: Effect, reason: str, **extra: Any) -> Evidence:
    """Build an evidence item (keeps the key names in one place)."""
    ev: Evidence = {"kind": kind, "source": source, "value": value, "effect": effect, "reason": reason}
    ev.update(extra)  # type: ignore[typeddict-item]
    return ev

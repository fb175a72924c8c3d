"""The photo-deletion hook: other apps register what deleting a photo at once changes for them, so the vault
never imports them (social sends back the posts that used it and opens takedowns for the published ones).

An explicit registry, as consents.hooks is for withdrawals: each app registers a handler, which does it, and a
preview, which says what the handler would do (the confirmation page lists it). Handlers run inside the
deletion's transaction, so the deletion and its effects commit together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Effect:
    """One thing outside the vault that deleting a photo changes, as the coordinator deleting it is told."""

    what: str  # "Post #12 (approved, for Facebook Page)"
    will: str  # before, a sentence: "It will be sent back to its author."
    done: str  # after, to follow "what: ": "sent back to its author"


EffectsOf = Callable[[frozenset[int]], list[Effect]]
_handlers: list[EffectsOf] = []
_previews: list[EffectsOf] = []


def register_photos_deleted(*, handler: EffectsOf, preview: EffectsOf) -> None:
    """Register, once each (typically from an AppConfig.ready), what deleting photos does (`handler`, given the
    ids of the photos just deleted) and what it would do (`preview`, read only)."""
    if handler not in _handlers:
        _handlers.append(handler)
    if preview not in _previews:
        _previews.append(preview)


def unregister_photos_deleted(*, handler: EffectsOf, preview: EffectsOf) -> None:
    if handler in _handlers:
        _handlers.remove(handler)
    if preview in _previews:
        _previews.remove(preview)


def deletion_effects(photo_ids: Iterable[int]) -> list[Effect]:
    """What deleting these photos would change outside the vault, from every registered preview."""
    ids = frozenset(photo_ids)
    return [effect for preview in list(_previews) for effect in preview(ids)]


def run_photos_deleted_handlers(photo_ids: Iterable[int]) -> list[Effect]:
    """Call every registered handler; what they changed. Precondition: inside the deletion's transaction,
    after the photos are marked deleted."""
    ids = frozenset(photo_ids)
    return [effect for handler in list(_handlers) for effect in handler(ids)]

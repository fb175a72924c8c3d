"""Children identifiable: names from the consent register (the strongest signal)."""

from __future__ import annotations

from consents.names import find_register_names

__all__ = ["find_register_names"]

"""Religious and political content: the editable term lists (social.models.PolicyTerm)."""

from __future__ import annotations

import re
from collections.abc import Iterable


def term_matches(text: str, terms: Iterable[str]) -> list[str]:
    """Whole words or phrases only, any case: "pray" is not found in "spray"."""
    hits = []
    for term in terms:
        pattern = r"(?<![\w'’-])" + r"\s+".join(re.escape(part) for part in term.split()) + r"(?![\w'’-])"
        if re.search(pattern, text, re.IGNORECASE):
            hits.append(term)
    return hits

"""The two ways a consent action says no: shared by the services that refuse and the selectors that read links."""

from __future__ import annotations


class ConsentError(Exception):
    """A consent action that cannot go ahead; the message is for the person doing it."""


class LinkProblem(Exception):
    """Why an emailed link cannot be used."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind  # "invalid", "expired" or "used"

"""A page's ids, read with html.parser: ids used more than once, and labels or descriptions pointing at nothing.

The browser tests check the same in the live page (tests.conftest.assert_accessible); these need no browser.
"""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(values["id"])
        if tag == "label" and values.get("for"):
            self.references.append(values["for"])
        for name in ("aria-describedby", "aria-labelledby", "aria-controls"):
            self.references.extend((values.get(name) or "").split())


def _read(html: str) -> _Ids:
    parser = _Ids()
    parser.feed(html)
    parser.close()
    return parser


def duplicate_ids(html: str) -> list[str]:
    return sorted(id_ for id_, count in Counter(_read(html).ids).items() if count > 1)


def dangling_references(html: str) -> list[str]:
    """Ids a label's `for` or an aria-* attribute names that no element has."""
    page = _read(html)
    ids = set(page.ids)
    return sorted({reference for reference in page.references if reference not in ids})

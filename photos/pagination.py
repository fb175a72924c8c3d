"""Pages of a long list that count only as far as anyone reads, so a page costs the same with 20,000 rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.utils.functional import cached_property

# Counting never goes past this, however large a page number is typed: more rows than any list has,
# and well inside what SQL's LIMIT takes.
COUNT_AT_MOST = 2**31


class CappedPaginator(Paginator):
    """A Paginator that counts at most `cap` rows, or up to the end of the page asked for if that is further.

    `object_list` is a queryset of the rows' ids, in the list's order; `load(ids)` returns those rows (in
    any order). One query reads the ids up to the cap, which gives both the count and the page, and one
    more loads the page's rows, so the filters are worked out once and never over every row.

    `exact` says whether `count` is the total or only "more than `cap`"; when it is not, `num_pages` goes
    only as far as was counted, at least one page past the one asked for, so "next" works as before.
    Whenever the total is within the count it behaves as Django's Paginator.
    """

    def __init__(
        self, object_list: QuerySet, per_page: int, *, cap: int, load: Callable[[list[Any]], Iterable[Model]]
    ) -> None:
        super().__init__(object_list, per_page)
        self.cap = cap
        self.load = load
        self._count_to = cap

    def get_page(self, number) -> Page:
        try:
            wanted = int(number)
        except (TypeError, ValueError):
            wanted = 1
        self._count_to = max(self.cap, min(wanted * self.per_page, COUNT_AT_MOST))
        return super().get_page(number)

    @cached_property
    def _ids(self) -> list[Any]:
        return list(self.object_list[: self._count_to + 1])

    @cached_property
    def count(self) -> int:
        """The rows, counted up to one past the cap (or the end of the page asked for)."""
        return len(self._ids)

    @property
    def exact(self) -> bool:
        """Whether `count` is the total, rather than "more than `cap`"."""
        return self.count <= self._count_to

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        ids = self._ids[bottom : bottom + self.per_page]
        rows = {row.pk: row for row in self.load(ids)}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)

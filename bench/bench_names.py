"""Register names in a comment (consents.names), with 5,000 children and 2,000 carers at scale 1.

`find_register_names`, as the inbox runs it on every incoming message, on a comment naming nobody and on one
naming a child and a carer; and `register_mentions(text, spellings=True)`, as the post checks run it, on the
second. Each against searching for every name in the register, as the code did before
(`searching_every_name` in tests/consents/test_names_fast.py): `old_median_ms`, and `speedup` (old / new).
Both read the register in the same two queries, timed alone as `queries_median_ms`.

Two registers: the seed's, whose names come from 20 first names and 20 surnames, and the same children and
carers given names as varied as a real register's (1,200 first names, 2,000 surnames), inside a transaction
rolled back afterwards. With the second, the old search has more patterns than its cache of compiled ones holds.

Old and new run interleaved, RUNS times each, after one call each to fill the caches. They must find the same
names, or the benchmark fails. No target: the figures are for the record.
"""

from __future__ import annotations

import random

from bench import common

RUNS = 15
FIRST_NAMES = 1200
SURNAMES = 2000
SYLLABLES = ["ka", "ri", "lo", "ma", "ne", "sa", "to", "li", "da", "mi", "ro", "be", "na", "ta", "le", "jo", "el"]
WITHOUT_NAMES = (
    "Lovely photos from Saturday! Thanks so much to everyone who came along to the park, "
    "the kids had a great time and we can't wait for the next one"
)


class _Rollback(Exception):
    pass


def _timed(call, text: str) -> float:
    with common.Timer() as t:
        call(text)
    return t.seconds


def _measure(name: str, new, old, text: str) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        found = new(text)
    if found != old(text):
        raise AssertionError(f"{name}: the names found differ from searching for every name")
    new_seconds, old_seconds = [], []
    for _ in range(RUNS):  # interleaved, so a slower moment of the machine falls on both
        new_seconds.append(_timed(new, text))
        old_seconds.append(_timed(old, text))
    new_ms, old_ms = common.summary_ms(new_seconds), common.summary_ms(old_seconds)
    return {
        "name": name,
        **new_ms,
        "old_median_ms": old_ms["median_ms"],
        "old_p95_ms": old_ms["p95_ms"],
        "speedup": round(old_ms["median_ms"] / new_ms["median_ms"], 1),
        "queries": len(captured.captured_queries),
        "found": len(found),
    }


def _vary_names() -> None:
    """Give every child and carer a name from a real register's variety; carers take a child's surname."""
    from consents.models import Carer, Child

    rng = random.Random(5000)

    def pool(size: int, syllables: int) -> list[str]:
        names: set[str] = set()
        while len(names) < size:
            names.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, syllables))).capitalize())
        return sorted(names)

    first_names, surnames = pool(FIRST_NAMES, 3), pool(SURNAMES, 4)
    children = list(Child.objects.order_by("pk").only("pk", "family_id"))
    family_surname = {}
    for child in children:
        child.first_name = rng.choice(first_names)
        child.last_name = family_surname.setdefault(child.family_id, rng.choice(surnames))
    Child.objects.bulk_update(children, ["first_name", "last_name"], batch_size=1000)
    carers = list(Carer.objects.order_by("pk").only("pk", "family_id"))
    for carer in carers:
        carer.full_name = f"{rng.choice(first_names)} {family_surname.get(carer.family_id) or rng.choice(surnames)}"
    Carer.objects.bulk_update(carers, ["full_name"], batch_size=1000)


def _register_rows(register: str) -> list[dict]:
    from consents.models import Carer, Child
    from consents.names import NameMatch, find_register_names, register_mentions
    from tests.consents.test_names_fast import searching_every_name

    def queries(_text: str) -> None:
        list(Child.objects.order_by().values_list("pk", "family_id", "first_name", "last_name"))
        list(Carer.objects.order_by().values_list("family_id", "full_name"))

    def inbox_before(text: str) -> list[NameMatch]:
        return [NameMatch(m.family_id, m.name, m.who) for m in searching_every_name(text)]

    def posts(text: str):
        return register_mentions(text, spellings=True)

    def posts_before(text: str):
        return searching_every_name(text, spellings=True)

    child = Child.objects.order_by("pk").first()
    carer = Carer.objects.order_by("pk").first()
    naming = (
        f"Well done {child.first_name} {child.last_name}, what a star! "
        f"{carer.full_name.split()[0]} says thank you to everyone who helped"
    )
    floor_ms = common.summary_ms([_timed(queries, "") for _ in range(RUNS)])["median_ms"]
    rows = [
        _measure("find_register_names, a comment naming nobody", find_register_names, inbox_before, WITHOUT_NAMES),
        _measure("find_register_names, a comment naming a child", find_register_names, inbox_before, naming),
        _measure("register_mentions(spellings=True), the same", posts, posts_before, naming),
    ]
    counts = {"children": Child.objects.count(), "carers": Carer.objects.count()}
    return [
        {"benchmark": "names", **row, "name": f"{row['name']} ({register})", "queries_median_ms": floor_ms, **counts}
        for row in rows
    ]


def run() -> list[dict]:
    common.setup()
    from django.db import transaction

    rows = _register_rows("seed's register")
    try:
        with transaction.atomic():
            _vary_names()
            rows += _register_rows("varied names")
            raise _Rollback
    except _Rollback:
        pass
    return rows


if __name__ == "__main__":
    import json

    for r in run():
        print(json.dumps(r, default=str))

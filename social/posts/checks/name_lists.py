"""The first names and surnames the "children identifiable" check knows, from the `names-dataset` package
(pinned in requirements.txt; MIT licence; names with their popularity in 105 countries).

Which names: first names ranked in the top 6,000 for the UK or Ireland and surnames in the top 12,000
there, and the 300 most common of either in every other country in the data (a FiG family's names can
come from anywhere, and the data ranks each name only in the ten countries where it is most common, so
"Muhammad" and "Fatima" have no UK rank). About 21,000 first names and 33,000 surnames.

Cost: the package's own loader, NameDataset(), holds 1.9 GB (12 s), so a web worker never runs it. The
lists are built once a machine (for each version of the package) by `name_lists_build.py` in a separate
process (about 15 s and 1.1 GB at its peak, then that memory is given back), written to var/names/ (see
lists_path) and read from there once a process, in about 30 ms: four frozensets of about 6 MB together
(tests/social/posts/test_people_checks.py holds them under 16 MB). Nothing is ever downloaded.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path

from django.conf import settings

BUILDER = Path(__file__).with_name("name_lists_build.py")


@dataclass(frozen=True)
class NameLists:
    source: str
    # As the data writes them: "Maisie", "Oneill" (no apostrophe), "Mcdonald" (one capital), "Mary-Jane".
    home_first: frozenset[str]  # common in the UK or Ireland
    home_last: frozenset[str]
    first: frozenset[str]  # those and the most common of every other country
    last: frozenset[str]


def lists_path() -> Path:
    """Where this package version's lists are: the checkout's own var/names/ (a product of the installed
    package, like collected static files, so test runs with a scratch FIG_VAR_DIR share it), else FIG_VAR_DIR's
    names/ folder. Where they will be built when neither has them: the first of those that can be written."""
    name = f"names-dataset-{version('names-dataset')}.json"
    folders = list(dict.fromkeys([Path(settings.BASE_DIR) / "var" / "names", Path(settings.VAR_DIR) / "names"]))
    for folder in folders:
        if (folder / name).exists():
            return folder / name
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder / name
    raise RuntimeError(f"No folder to keep the name lists in: {', '.join(map(str, folders))} cannot be written.")


def _build(path: Path) -> None:
    """Build the file in another process, one process at a time (the others wait and then read it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            subprocess.run([sys.executable, str(BUILDER), str(path)], check=True, timeout=600)


@cache
def name_lists() -> NameLists:
    """The lists, read once a process (built first if this machine has no file for this package version)."""
    path = lists_path()
    if not path.exists():
        _build(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    home_first, home_last = frozenset(data["first"]), frozenset(data["last"])
    return NameLists(
        data["source"],
        home_first,
        home_last,
        home_first | frozenset(data["first_elsewhere"]),
        home_last | frozenset(data["last_elsewhere"]),
    )

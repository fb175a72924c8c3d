"""Build the compact first-name and surname lists that the "children identifiable" check reads, from the
installed `names-dataset` package (MIT licence; first and last names with a popularity rank in each of
105 countries). Run as a script by path, in its own process: `python name_lists_build.py OUT.json`.

Why a separate process: the package keeps its data as two gzipped pickles of every name in the world, and
unpickling one costs about 1 GB of memory and 6 seconds (measured on this project's machine: VmHWM 0.91 GB
for the first names, 1.06 GB for the last names; `NameDataset()` loads both: 1.9 GB and 12 s). A web worker must
never hold that, so this script reads one file at a time, keeps only the names the check needs, writes a
small JSON file (about 0.5 MB) and exits, giving the memory back. Nothing is downloaded: it reads the files
the package installed.

This file imports nothing from the project (so it runs without Django) and is kept next to its one caller,
social/posts/checks/name_lists.py, which says which names are kept and why.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import re
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

# The UK and Ireland first, then any country: a FiG family can have a name from anywhere, and the data
# lists only the ten countries where each name is most common ("Muhammad", "Fatima" and "Ali" rank
# nowhere in the UK in it). Ranks are 1 for the most common name of a country.
HOME = ("GB", "IE")
FIRST_HOME_MAX_RANK = 6000  # below this, the UK lists are mostly noise: "Hall", "Green", "Oak" as first names
LAST_HOME_MAX_RANK = 12000
ANY_COUNTRY_MAX_RANK = 300  # the most common names of every country in the data


def _where(info: dict, home_max: int) -> str | None:
    """ "home" for a name common in the UK or Ireland, "elsewhere" for one common in another country, or None."""
    ranks = {country: rank for country, rank in (info.get("rank") or {}).items() if rank is not None}
    if any(ranks.get(country, home_max + 1) <= home_max for country in HOME):
        return "home"
    if any(rank <= ANY_COUNTRY_MAX_RANK for rank in ranks.values()):
        return "elsewhere"
    return None


def _latin(name: str) -> bool:
    """One word in the Latin alphabet (the data also has "A A" and names in other scripts): what a post can match."""
    return re.fullmatch(r"[A-Z][A-Za-z'-]*[a-z]", name) is not None


def build(out: Path) -> dict:
    import names_dataset

    data_dir = Path(names_dataset.__file__).parent / "v3"
    lists: dict[str, object] = {"source": f"names-dataset {version('names-dataset')}"}
    for kind, home_max in (("first", FIRST_HOME_MAX_RANK), ("last", LAST_HOME_MAX_RANK)):
        with gzip.open(data_dir / f"{kind}_names.pkl.gz", "rb") as f:
            names = pickle.load(f)  # noqa: S301 (the installed package's own data file)
        kept: dict[str, list[str]] = {"home": [], "elsewhere": []}
        for name, info in names.items():
            if _latin(name) and (where := _where(info, home_max)):
                kept[where].append(name)
        del names
        lists[kind] = sorted(kept["home"])
        lists[f"{kind}_elsewhere"] = sorted(kept["elsewhere"])
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=out.parent, suffix=".tmp", delete=False, encoding="utf-8") as f:
        json.dump(lists, f, ensure_ascii=True, separators=(",", ":"))
    os.replace(f.name, out)  # readers see the whole file or none
    return lists


if __name__ == "__main__":
    build(Path(sys.argv[1]))

"""The policy checks measured against a labelled set of post texts (issue 14, "a measured standard").

    python -m bench.policy_checks [--json] [--keepdb]

Runs `social.posts.checks.check_text` over every text in `tests/data/policy_posts.json` and prints:
the innocent posts that get any finding (false alarms), the problem posts that get none (misses),
both as a count and a percentage against the 5 % target, and the counts for each label. It is a
report: the exit code is 0 whatever the figures (an error while measuring still fails).

Then it prints the same report for the held-out set, `tests/data/policy_posts_holdout.json`: post texts
written without looking at the checks or the main set and never used to tune them, so its figures say
how the checks do on posts they were not tuned on. It is a measurement only: no test asserts its
figures (the test only checks its shape), and `bench.run` takes its summary rows from the main set.
Each set is measured with its own `public_contacts`.

The checks read the term lists (and whatever else they keep) from the database and the consent
register, which must be empty here: names in a register would make the figures depend on who is in
it. So the command uses the test settings (`tests.settings`) and a fresh test database, migrated
and dropped again, as a test run does (`--keepdb` keeps `test_fig_policy_checks` for the next run).
While measuring, FIG_PUBLIC_CONTACTS is the set's own `public_contacts` (FiG's public phone, email
and profiles in the set's made-up numbers).

`bench.run` (`make bench`) runs it in a subprocess after the other benchmarks and adds two rows to
the results; the test `tests/social/posts/test_policy_standard.py` asserts the same figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing the checks needs Django set up
    from social.posts.checks.base import Finding

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "policy_posts.json"
# Written apart from the checks and never used to tune them; reported, never asserted.
HOLDOUT = DATA.with_name("policy_posts_holdout.json")
HOLDOUT_TITLE = "Held-out set (not used for tuning)"
TARGET = 0.05  # at most 5 % of innocent posts with a finding, at most 5 % of problem posts with none
INNOCENT = "innocent"
PROBLEMS = ("religious", "political", "identifying", "contactable")
LABELS = (INNOCENT, *PROBLEMS)
# The check that should catch each kind of problem. Children identifiable is whatever check is not one of
# the others (today "names"), so a renamed or new people check still counts as its own.
OWN_CHECK = {"religious": "religious", "political": "political", "contactable": "contact"}
OTHER_CHECKS = {"religious", "political", "contact", "consent", "removal"}


@dataclass(frozen=True)
class Post:
    text: str
    labels: tuple[str, ...]
    note: str

    @property
    def innocent(self) -> bool:
        return self.labels == (INNOCENT,)


@dataclass(repr=False)
class Report:
    results: list[tuple[Post, list[Finding]]]
    false_alarms: list[tuple[Post, list[Finding]]] = field(default_factory=list)
    misses: list[Post] = field(default_factory=list)
    elsewhere: list[tuple[Post, list[Finding]]] = field(default_factory=list)  # caught, not by the own check
    per_label: dict[str, dict[str, int]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<Report {len(self.false_alarms)} false alarms, {len(self.misses)} misses>"

    @property
    def innocent(self) -> int:
        return sum(1 for post, _ in self.results if post.innocent)

    @property
    def problems(self) -> int:
        return len(self.results) - self.innocent

    @property
    def false_alarm_rate(self) -> float:
        return len(self.false_alarms) / self.innocent if self.innocent else 0.0

    @property
    def miss_rate(self) -> float:
        return len(self.misses) / self.problems if self.problems else 0.0


def load(path: Path = DATA) -> tuple[list[Post], list[str]]:
    """The labelled posts and the public contacts that stand for FiG's own while measuring."""
    data = json.loads(path.read_text(encoding="utf-8"))
    posts = []
    for row in data["posts"]:
        label = row["label"]
        labels = tuple(label) if isinstance(label, list) else (label,)
        posts.append(Post(text=row["text"], labels=labels, note=row.get("note", "")))
    return posts, list(data.get("public_contacts", []))


def _own_check_fired(label: str, checks: set[str]) -> bool:
    if label == "identifying":
        return bool(checks - OTHER_CHECKS)
    return OWN_CHECK[label] in checks


def measure(posts: list[Post], public_contacts: list[str] | None = None) -> Report:
    """check_text over every post, with FIG_PUBLIC_CONTACTS set to the set's own. Django must be set up."""
    from django.test import override_settings

    from social.posts.checks import check_text

    with override_settings(FIG_PUBLIC_CONTACTS=list(public_contacts or [])):
        results = [(post, list(check_text(post.text))) for post in posts]
    report = Report(results=results)
    report.per_label = {label: {"posts": 0, "any finding": 0, "own check": 0} for label in LABELS}
    for post, findings in results:
        checks = {finding.check for finding in findings}
        if post.innocent:
            counts = report.per_label[INNOCENT]
            counts["posts"] += 1
            counts["any finding"] += bool(findings)
            if findings:
                report.false_alarms.append((post, findings))
            continue
        if not findings:
            report.misses.append(post)
        elif not any(_own_check_fired(label, checks) for label in post.labels):
            report.elsewhere.append((post, findings))
        for label in post.labels:
            counts = report.per_label[label]
            counts["posts"] += 1
            counts["any finding"] += bool(findings)
            counts["own check"] += _own_check_fired(label, checks)
    return report


def describe(findings: list[Finding]) -> str:
    return "; ".join(f"{f.check}: {', '.join(f.matches) or '(no matches listed)'}" for f in findings)


def _percent(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f} %)" if whole else f"{part}/0"


def false_alarm_lines(report: Report) -> list[str]:
    return [f"  - {post.text!r}\n      found {describe(findings)}" for post, findings in report.false_alarms]


def miss_lines(report: Report) -> list[str]:
    return [f"  - [{', '.join(post.labels)}] {post.text!r}\n      ({post.note})" for post in report.misses]


def report_text(report: Report, path: Path = DATA, title: str = "") -> str:
    fa_met = report.false_alarm_rate <= TARGET
    miss_met = report.miss_rate <= TARGET
    heading = f"Policy checks on {len(report.results)} labelled posts ({path.relative_to(DATA.parent.parent.parent)})"
    lines = [
        *([f"{title}: {heading}", "=" * len(f"{title}: {heading}")] if title else [heading]),
        "",
        f"Innocent posts with a finding (false alarms): {_percent(len(report.false_alarms), report.innocent)}"
        f"  target <= {TARGET:.0%}: {'met' if fa_met else 'MISSED'}",
        f"Problem posts with no finding (misses):       {_percent(len(report.misses), report.problems)}"
        f"  target <= {TARGET:.0%}: {'met' if miss_met else 'MISSED'}",
        "",
        "Per label (a post with two labels counts under each):",
        f"  {'label':<12} {'posts':>5} {'any finding':>12} {'own check':>10}",
    ]
    for label, counts in report.per_label.items():
        own = "" if label == INNOCENT else str(counts["own check"])
        lines.append(f"  {label:<12} {counts['posts']:>5} {counts['any finding']:>12} {own:>10}")
    lines += ["", f"False alarms ({len(report.false_alarms)}):", *(false_alarm_lines(report) or ["  none"])]
    lines += ["", f"Misses ({len(report.misses)}):", *(miss_lines(report) or ["  none"])]
    if report.elsewhere:
        lines += ["", f"Problem posts caught only by another category's check ({len(report.elsewhere)}):"]
        lines += [
            f"  - [{', '.join(post.labels)}] {post.text!r}\n      found {describe(findings)}"
            for post, findings in report.elsewhere
        ]
    return "\n".join(lines)


def summary_rows(report: Report) -> list[dict]:
    """Two rows for bench.run's table and results file."""
    return [
        {
            "benchmark": "policy_checks",
            "name": "innocent posts with a finding",
            "ratio": round(report.false_alarm_rate, 4),
            "count": len(report.false_alarms),
            "posts": report.innocent,
            "target": f"<= {TARGET:.0%}",
            "met": report.false_alarm_rate <= TARGET,
        },
        {
            "benchmark": "policy_checks",
            "name": "problem posts with no finding",
            "ratio": round(report.miss_rate, 4),
            "count": len(report.misses),
            "posts": report.problems,
            "target": f"<= {TARGET:.0%}",
            "met": report.miss_rate <= TARGET,
        },
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="end with one JSON line: the two summary rows")
    parser.add_argument("--keepdb", action="store_true", help="keep the database test_fig_policy_checks")
    args = parser.parse_args(argv)

    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    if args.keepdb:
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = "test_fig_policy_checks"
    old = setup_databases(verbosity=0, interactive=False, keepdb=args.keepdb)
    try:
        posts, public_contacts = load()
        report = measure(posts, public_contacts)
        holdout_posts, holdout_contacts = load(HOLDOUT)
        holdout = measure(holdout_posts, holdout_contacts)
    finally:
        teardown_databases(old, verbosity=0, keepdb=args.keepdb)
    print(report_text(report))
    print("\n")
    print(report_text(holdout, HOLDOUT, HOLDOUT_TITLE))
    if args.json:
        print(json.dumps(summary_rows(report)))
    return 0


def run() -> list[dict]:
    """For bench.run: measure in a subprocess (its own settings and empty database), report on stderr."""
    env = dict(os.environ)
    for name in ("DJANGO_SETTINGS_MODULE", "FIG_VAR_DIR", "FIG_CACHE_PREFIX"):
        env.pop(name, None)  # the benchmark's; DATABASE_URL and REDIS_URL stay so the same servers are used
    done = subprocess.run(
        [sys.executable, "-m", "bench.policy_checks", "--json"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.policy_checks failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    *report, rows = done.stdout.rstrip("\n").splitlines()
    print("\n".join(report), file=sys.stderr)
    return json.loads(rows)


if __name__ == "__main__":
    raise SystemExit(main())

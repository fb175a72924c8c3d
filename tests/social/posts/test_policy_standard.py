"""The measured standard for the policy checks (issue 14): a labelled set of at least 150 realistic post
texts in tests/data/policy_posts.json, and every text check run over it. At most 5 % of innocent posts
may get any finding, and at most 5 % of problem posts (religious, political, identifying, contactable)
may get none. `python -m bench.policy_checks` prints the same figures with every miss and false alarm.

The consent register is empty here: these figures are about what the checks find in the words alone.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bench.policy_checks import (
    DATA,
    HOLDOUT,
    INNOCENT,
    LABELS,
    PROBLEMS,
    TARGET,
    false_alarm_lines,
    load,
    measure,
    miss_lines,
)


def test_the_labelled_set_has_the_shape_the_issue_asks_for():
    posts, public_contacts = load(DATA)
    texts = [post.text for post in posts]
    assert len(posts) >= 150
    duplicates = [text for text, n in Counter(" ".join(t.lower().split()) for t in texts).items() if n > 1]
    assert not duplicates, duplicates
    assert all(post.text.strip() and post.note.strip() for post in posts)
    assert all(post.labels and set(post.labels) <= set(LABELS) for post in posts), [
        post.labels for post in posts if not set(post.labels) <= set(LABELS)
    ]
    # A post is either innocent or has one or more problem labels, never both.
    assert all(post.labels == (INNOCENT,) or INNOCENT not in post.labels for post in posts)
    innocent = sum(post.innocent for post in posts)
    assert innocent * 2 >= len(posts), f"{innocent} of {len(posts)} innocent"
    present = Counter(label for post in posts for label in post.labels)
    assert all(present[label] >= 20 for label in PROBLEMS), present
    # FiG's own contacts stand in the set; the innocent posts that use them must not be flagged.
    assert public_contacts
    assert any(contact in post.text for post in posts if post.innocent for contact in public_contacts)


def test_the_held_out_set_has_its_shape_and_shares_no_text_with_the_main_set():
    # Only its shape: its figures are a measurement (bench.policy_checks), never asserted.
    posts, public_contacts = load(HOLDOUT)
    assert len(posts) >= 90
    assert all(post.text.strip() and post.note.strip() for post in posts)
    assert all(post.labels and set(post.labels) <= set(LABELS) for post in posts)
    assert all(post.labels == (INNOCENT,) or INNOCENT not in post.labels for post in posts)
    assert sum(post.innocent for post in posts) >= 50
    present = Counter(label for post in posts for label in post.labels)
    assert all(present[label] >= 10 for label in PROBLEMS), present
    assert public_contacts

    def same(text: str) -> str:
        return " ".join(text.lower().split())

    main_texts = {same(post.text) for post in load(DATA)[0]}
    assert not [post.text for post in posts if same(post.text) in main_texts]
    assert len({same(post.text) for post in posts}) == len(posts)


@pytest.fixture
def report(db):
    posts, public_contacts = load(DATA)
    return measure(posts, public_contacts)


def test_at_most_5_percent_of_innocent_posts_get_any_finding(report):
    rate = report.false_alarm_rate
    assert rate <= TARGET, (
        f"{len(report.false_alarms)} of {report.innocent} innocent posts "
        f"({rate:.1%}) got a finding, target at most {TARGET:.0%}:\n" + "\n".join(false_alarm_lines(report))
    )


def test_at_most_5_percent_of_problem_posts_get_no_finding(report):
    rate = report.miss_rate
    assert rate <= TARGET, (
        f"{len(report.misses)} of {report.problems} problem posts ({rate:.1%}) got no finding, "
        f"target at most {TARGET:.0%}:\n" + "\n".join(miss_lines(report))
    )

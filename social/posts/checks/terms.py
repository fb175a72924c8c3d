"""Religious and political content: the editable lists (social.models.PolicyTerm) and how a post is read
against them.

The rules, as the term lists page explains them to administrators:

- A term is found as whole words, in any case, with its word forms: every word of a term matches the
  words that share its dictionary form (simplemma's English lemmas), so "pray" finds "prays", "prayed"
  and "praying", "prayer" finds "prayers", "church" finds "churches", and "vote for" finds "voted for".
  A term written with a capital letter is a name ("Labour", "Tory"): it finds itself, its plural and its
  possessive ("Tories", "Labour's"), never "laboured". A phrase matches across any spaces or hyphens.
- An exception ("church hall", "Temple Street") hides the terms of its list that lie inside it, where it
  occurs: "church" in "the church hall" is not found, "church service" in the same post still is. It must
  be a longer phrase around them: where every word of it is a term of its list ("praying" over "pray"), it
  hides nothing, and the term lists refuse it (social/posts/terms.py).
- A term that needs context ("vote", "party", "councillors") counts only when a context word ("shame
  on", "cuts") or a term of the same list is within CONTEXT_WINDOW words of it.
- A context word is never found on its own.
- A place of worship named as a venue is an address, not religious content, like "church hall": a venue
  word and "at", "of" or "in" just before the building's name ("the community hall at Harehills mosque", "the
  room at St Mark's church"). An exception cannot say this (the building's name between is any name), so the
  rule is the code's (PLACES_OF_WORSHIP, VENUE_WORDS); "a nativity play at church" is still found. A venue
  right after the building ("church hall", "the mosque's community hall") is left to the exceptions, which
  administrators can switch off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import simplemma

from social.posts.checks.base import CHECK_TITLES, Finding

CONTEXT_WINDOW = (
    15  # words either side: about two short sentences, so "Shame on them" reaches back to "Councillors voted"
)

TERM = "term"
NEEDS_CONTEXT = "needs_context"
CONTEXT = "context"
EXCEPTION = "exception"

# A word, with apostrophes inside it ("children's", "Labour’s"); hyphens split words, so "left-wing"
# is the two words "left" "wing", matched across a hyphen or a space.
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_PHRASE_GAP = re.compile(r"[\s\-‐‑–]+")
_POSSESSIVE = re.compile(r"['’]s$")

# A place of worship named as where a group meets says where, not what is believed: "the community hall at
# Harehills mosque" is a venue as "the church hall" is (an exception), whatever the building is called. The
# exceptions list "church hall" and the like; this covers every name a building may have between "hall at" and it.
PLACES_OF_WORSHIP = frozenset(
    {"church", "mosque", "masjid", "synagogue", "temple", "gurdwara", "mandir", "chapel", "cathedral", "abbey"}
)
VENUE_WORDS = frozenset(
    {
        "hall", "halls", "room", "rooms", "centre", "center", "cafe", "café", "kitchen", "hut", "annexe", "annex",
        "building", "lounge", "basement", "car", "grounds", "garden", "gardens", "playground", "field", "nursery",
        "hub",
    }
)  # fmt: skip
_VENUE_BEFORE = frozenset({"at", "of", "in", "inside", "behind", "beside"})
_CLAUSE_END = re.compile(r"[.!?;:\n]")  # the end of a sentence or clause (_venue)
_MAX_NAME_WORDS = 4  # "the hall at St Mark's and St John's church": the building's name between

EXPLANATIONS = {
    "religious": "FiG's status updates must not contain religious content.",
    "political": "FiG's status updates must not contain political content.",
}


@dataclass(frozen=True)
class Rule:
    """One switched-on row of a list, as the matcher sees it."""

    category: str
    kind: str
    term: str


@dataclass(frozen=True)
class Hit:
    """Where a rule matches the text: words first..last (inclusive), characters start..end."""

    rule: Rule
    first: int
    last: int
    start: int
    end: int
    text: str

    def within(self, other: Hit) -> bool:
        return other.first <= self.first and self.last <= other.last

    def distance(self, other: Hit) -> int:
        """Words between the two, 0 when they touch or overlap."""
        return max(other.first - self.last, self.first - other.last, 0)


@dataclass(frozen=True)
class TermFound:
    """A term that counts: what the post says, which term it is, and why it counts."""

    category: str
    text: str
    term: str
    context: tuple[str, ...] = ()  # the context words near it, for a term that needs context

    @property
    def is_form(self) -> bool:
        """Whether the post has another form of the term ("prayers" for "prayer"), not the term itself."""
        return [_norm(w) for w in _WORD.findall(self.text)] != [_norm(w) for w in _WORD.findall(self.term)]

    def said(self) -> str:
        if self.is_form:
            return f"“{self.text}” (a form of “{self.term}”)"
        return f"“{self.text}”"


def _reasons(items: list[TermFound]) -> str:
    """Why each term counts, in the order the post has them: a term's own reason, and one sentence for the
    terms that count because of the same context words."""
    reasons: list[str] = []
    by_context: dict[tuple[str, ...], list[TermFound]] = {}
    for item in items:
        if not item.context:
            if item.is_form:
                reasons.append(f"“{item.text}” is a form of the {item.category} term “{item.term}”.")
            else:
                reasons.append(f"“{item.text}” is a {item.category} term.")
        elif item.context not in by_context:
            by_context[item.context] = [item]
            reasons.append(item.context)  # a placeholder, filled in below once the group is complete
        else:
            by_context[item.context].append(item)
    for context, group in by_context.items():
        one = len(group) == 1
        near = _and(f"“{word}”" for word in context)
        reasons[reasons.index(context)] = (
            f"{_and(item.said() for item in group)} {'counts' if one else 'count'} as {group[0].category} here "
            f"because {near} {'is' if len(context) == 1 else 'are'} near {'it' if one else 'them'}."
        )
    return " ".join(reasons)


# --- words -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Word:
    start: int
    end: int
    norm: str  # casefolded, without a possessive 's
    lemmas: frozenset[str]


def _norm(word: str) -> str:
    return _POSSESSIVE.sub("", word).casefold()


@lru_cache(maxsize=20000)
def _lemmas(norm: str) -> frozenset[str]:
    """The dictionary forms a word may be. The dictionary keeps some -ing words as nouns ("writing",
    "blessing"); they are also read as the verb, so "writing to your MP" is a form of "write to your MP"."""
    forms = {norm, simplemma.lemmatize(norm, lang="en").casefold()}
    if norm.endswith("ing") and len(norm) > 5:
        stem = norm[:-3]
        forms |= {stem, stem + "e"}
        if len(stem) > 2 and stem[-1] == stem[-2]:
            forms.add(stem[:-1])  # worshipping, campaigning stays
    return frozenset(forms)


def _words(text: str) -> list[_Word]:
    words = []
    for match in _WORD.finditer(text):
        norm = _norm(match.group())
        words.append(_Word(match.start(), match.end(), norm, _lemmas(norm)))
    return words


@dataclass(frozen=True)
class _TermWord:
    """One word of a term and the words of a post it matches."""

    norm: str
    lemma: str
    is_name: bool

    @classmethod
    def of(cls, word: str) -> _TermWord:
        norm = _norm(word)
        return cls(norm, simplemma.lemmatize(norm, lang="en").casefold(), word[:1].isupper())

    def lookup_keys(self) -> set[str]:
        """What a matching post word has among its norm and lemmas (_index): where to look for it."""
        if self.is_name:
            return {self.norm, self.norm + "s", self.norm + "es", self.norm[:-1] + "ies"}
        return {self.norm, self.lemma}

    def matches(self, word: _Word) -> bool:
        if word.norm == self.norm:
            return True
        if self.is_name:
            plurals = {self.norm + "s", self.norm + "es"}
            if self.norm.endswith("y"):
                plurals.add(self.norm[:-1] + "ies")
            return word.norm in plurals
        return self.lemma in word.lemmas


@lru_cache(maxsize=20000)
def _term_words(term: str) -> tuple[_TermWord, ...]:
    """The words of a term, each lemmatised once: every check reads every term of the lists."""
    return tuple(_TermWord.of(w.group()) for w in _WORD.finditer(term))


def _index(words: list[_Word]) -> dict[str, list[int]]:
    """Where each norm and lemma stands in the text, so a term is looked for only where its first word is."""
    index: dict[str, list[int]] = {}
    for position, word in enumerate(words):
        for key in {word.norm, *word.lemmas}:
            index.setdefault(key, []).append(position)
    return index


def _find(text: str, words: list[_Word], index: dict[str, list[int]], rule: Rule) -> list[Hit]:
    """Every place the rule's words stand one after another in the text, with only spaces or hyphens between."""
    wanted = _term_words(rule.term)
    if not wanted:
        return []
    hits = []
    starts = sorted({position for key in wanted[0].lookup_keys() for position in index.get(key, ())})
    for first in starts:
        last = first + len(wanted) - 1
        if last >= len(words):
            break
        if all(wanted[i].matches(words[first + i]) for i in range(len(wanted))) and all(
            _PHRASE_GAP.fullmatch(text[words[i].end : words[i + 1].start]) for i in range(first, last)
        ):
            start, end = words[first].start, words[last].end
            hits.append(Hit(rule, first, last, start, end, text[start:end]))
    return hits


# --- the rules -------------------------------------------------------------------------------------------


def find_terms(text: str, rules: Iterable[Rule]) -> list[TermFound]:
    """The terms that count in `text`, every time they appear, in order; a term inside a longer one that
    counts ("prayers" in "thoughts and prayers") is left to the longer one."""
    words = _words(text)
    index = _index(words)
    hits: dict[str, list[Hit]] = {TERM: [], NEEDS_CONTEXT: [], CONTEXT: [], EXCEPTION: []}
    for rule in rules:
        hits.setdefault(rule.kind, []).extend(_find(text, words, index, rule))

    # An exception hides only as a longer phrase around terms: one whose every word is a term of its list (an
    # exception "praying" over the term "pray") would switch the term off, so it hides nothing.
    exceptions = [e for e in hits[EXCEPTION] if not _covered(e, [*hits[TERM], *hits[NEEDS_CONTEXT], *hits[CONTEXT]])]

    def hidden(hit: Hit) -> bool:
        return _venue(text, words, hit) or any(
            hit.within(exception) and exception.rule.category == hit.rule.category for exception in exceptions
        )

    anchors = [hit for hit in [*hits[TERM], *hits[CONTEXT]] if not hidden(hit)]
    anchors = [a for a in anchors if not any(a is not b and a.within(b) and a.text != b.text for b in anchors)]
    counted: list[tuple[Hit, tuple[str, ...]]] = [(hit, ()) for hit in hits[TERM] if not hidden(hit)]
    for hit in hits[NEEDS_CONTEXT]:
        if hidden(hit):
            continue
        near = sorted(
            (a for a in anchors if a.rule.category == hit.rule.category and hit.distance(a) <= CONTEXT_WINDOW),
            key=lambda a: (hit.distance(a), a.first),
        )
        if near:
            counted.append((hit, tuple(dict.fromkeys(a.text for a in near))[:3]))
    kept: list[Hit] = []
    found: list[TermFound] = []
    # Longest first, and of two terms on the same words the one the post has exactly ("praying", not "pray").
    for hit, context in sorted(
        counted, key=lambda c: (c[0].first, -c[0].last, _norm(c[0].text) != _norm(c[0].rule.term))
    ):
        if any(hit.within(other) for other in kept):
            continue
        kept.append(hit)
        found.append(TermFound(hit.rule.category, hit.text, hit.rule.term, context))
    return found


def _venue(text: str, words: list[_Word], hit: Hit) -> bool:
    """A religious term that is a place of worship named as a venue (see PLACES_OF_WORSHIP): a venue word and
    "at", "of" or "in" before the building's name."""
    if hit.rule.category != "religious" or hit.first != hit.last or not words[hit.first].lemmas & PLACES_OF_WORSHIP:
        return False

    def joined(a: int, b: int) -> bool:  # words a and b (a < b) are in one sentence, nothing but words between
        return not _CLAUSE_END.search(text[words[a].end : words[b].start])

    # Back over the building's name ("Harehills", "St Mark's", "the") to "at", then the venue word before it.
    i = hit.first - 1
    while i >= 0 and hit.first - i <= _MAX_NAME_WORDS and words[i].norm not in _VENUE_BEFORE:
        word = text[words[i].start : words[i].end]
        if not (word[:1].isupper() or words[i].norm in {"the", "and", "st", "saint"}):
            return False
        i -= 1
    return i >= 1 and words[i].norm in _VENUE_BEFORE and words[i - 1].norm in VENUE_WORDS and joined(i - 1, hit.first)


def _covered(exception: Hit, hits: Iterable[Hit]) -> list[Hit]:
    """The hits of the exception's list inside it, when together they cover every word of it; [] otherwise."""
    inside = [hit for hit in hits if hit.rule.category == exception.rule.category and hit.within(exception)]
    covered = {position for hit in inside for position in range(hit.first, hit.last + 1)}
    return inside if len(covered) == exception.last - exception.first + 1 else []


def exception_would_hide(category: str, exception: str, rules: Iterable[Rule]) -> list[str]:
    """The terms (of any kind but an exception) of `category` that `exception` would hide wherever they are:
    those found inside it when together they are every word of it ("praying" over "pray", "God's" over
    "God"), each named once by the longest term there. [] for an exception with a word more than the terms
    inside it ("church hall" over "church")."""
    words = _words(exception)
    index = _index(words)
    whole = Hit(Rule(category, EXCEPTION, exception), 0, len(words) - 1, 0, len(exception), exception)
    hits = [
        hit
        for rule in rules
        if rule.category == category and rule.kind != EXCEPTION
        for hit in _find(exception, words, index, rule)
    ]
    inside = _covered(whole, hits) if words else []
    # Named by the longest: "thoughts and prayers", not "prayer" as well.
    widest = [a for a in inside if not any(a.within(b) and (a.first, a.last) != (b.first, b.last) for b in inside)]
    return list(dict.fromkeys(hit.rule.term for hit in widest))


def active_rules() -> list[Rule]:
    """Every switched-on row of both lists. One query."""
    from social.models import PolicyTerm

    return [
        Rule(category, kind, term)
        for category, kind, term in PolicyTerm.objects.filter(is_active=True).values_list("category", "kind", "term")
    ]


def term_findings(text: str, rules: Iterable[Rule] | None = None) -> list[Finding]:
    """A finding for each list with terms that count in `text`: its matches are the words as the post has
    them, its explanation says which term each is and why it counts. One query, unless given the rules."""
    found = find_terms(text, active_rules() if rules is None else rules)
    findings = []
    for category in ("religious", "political"):
        items = [item for item in found if item.category == category]
        if items:
            # Each spelling is highlighted; each term and its reason is said once ("Praying", "PRAYING": one).
            said: dict[tuple, TermFound] = {}
            for item in items:
                said.setdefault((_norm(item.text), item.term.casefold(), item.context), item)
            findings.append(
                Finding(
                    category,
                    CHECK_TITLES[category],
                    f"{EXPLANATIONS[category]} {_reasons(list(said.values()))}",
                    tuple(dict.fromkeys(item.text for item in items)),
                )
            )
    return findings


def term_matches(text: str, terms: Iterable[str]) -> list[str]:
    """Which of `terms` are in `text`, as whole words with their word forms, any case: "pray" is found in
    "praying", not in "spray"."""
    return list(
        dict.fromkeys(item.term for item in find_terms(text, [Rule("religious", TERM, term) for term in terms]))
    )


def _and(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

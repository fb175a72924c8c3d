"""Children identifiable: the policy says children and young people must not be identifiable from what FiG
shares. Two findings:

- "names": names from the consent register, the strongest signal (consents.names: a full name in any case,
  either way round and with initials or middle names between, "Hughes, Tyler", "Tyler J. Hughes", "Tyler
  Hughes' mum"; a first name written with a capital). It cannot be dismissed when it names a child whose
  consent does not allow online use: by the child's full name, by a carer's full name (which names the
  family, so every child of it), or by the child's first name, wherever it is written, with something that
  narrows it to one child: the surname's initial ("Tyler H."), or in the same sentence a surname of the
  family ("Tyler, Mrs Hughes' son") or an age, a year group, a school or a class (as below). A first name
  written in lower case counts only with the initial, or an age, a year group, a school or a class right
  beside it ("well done tyler in year 2"). A first name on its own stays dismissible: it does not identify
  a child, and blocking every post that says "Sam" would stop posts about staff called Sam. A text with
  more than MAX_ECHOED register names gets one finding that names none of them, so the live check cannot
  be used to confirm who is in the register from a list of names.
- "identifying": what identifies a child whoever they are, found with the first names and surnames of
  name_lists (from the names-dataset package) and the words around them, never with the register, so
  that what it says about a name tells nothing about who FiG works with:
  a first name with a surname ("Tyler Hughes"), with an age ("Maisie, 6", "aged 6", "6-year-old Maisie"),
  with a year group ("Year 3", "Reception", "P2") or with a school, nursery or class named next to it
  ("Maisie from Oakfield Primary School", "Maisie in Hedgehog Class"), or with a capitalised word after it
  the data does not know as a surname and one of those beside them ("Maisie Norland at Oakfield Primary");
  a family surname with a place ("the Hussain family from Beeston", "the Mahmoods who have just moved to
  Gipton").

check_text (social/posts/checks/__init__.py) hands these checks the text normalised (NFKC, no format
characters, Cyrillic and Greek look-alikes made Latin), so "Ty\u200bler" and "Tуler" are "Tyler" here.

What keeps innocent posts quiet: names count when capitalised (in lower case only a common full name with
an age, a year group, a school or a class beside it: "harry smith year 2"); words that are also names
("Summer fair", "Hope to see you", "Will you come?", "the Grace Room") count only with an age or a year
group right after them, or as a first name in the middle of a sentence followed by a surname; a name
followed by a place or event word is the name of a place or event ("Park Road", "Rose Hill Primary"), unless
written as a possessive ("Tyler Hughes' team"); a name after a title or a job ("Councillor Jane Smith",
"our CEO Sarah Brown"), a few well-known names ("John Lewis", "Harry Potter") and the full names of FiG
staff are not children's; a first name alone is never a finding (an adult's first name does not identify a
child, and FiG thanks its staff and volunteers by first name all the time); and a first name at the start of a sentence counts only if it is common in
the UK or Ireland. Any other adult's full name, a carer's included, is reported like a child's: a name
does not tell an adult from a child, and a carer's full name identifies the family. The approver dismisses
it with a reason when it is an adult's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from consents.names import RegisterMention, find_register_names, name_said, register_mentions
from social.posts.checks.base import CHECK_TITLES, Finding
from social.posts.checks.name_lists import name_lists

__all__ = ["find_register_names", "identifying_finding", "identifying_items", "people_findings", "register_finding"]

MAX_ECHOED = 3  # register names a finding may repeat back; more and it names none


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- the words around names ------------------------------------------------------------------------------

# English words that are also first names in the data. Such a word counts as a name only with an age right
# beside it ("Summer, aged 6"), never as the start of a full name ("Summer Fair", "Will Brown be there?").
WORD_NAMES = _words(
    """
    summer autumn spring winter april may june july august january sunday monday tuesday friday
    hope grace joy faith charity patience mercy peace honour honor justice liberty unity harmony melody
    destiny trinity blessing precious gift favour miracle star sky river storm rain sunny sandy dusty
    rose holly ivy lily daisy poppy violet iris jasmine heather hazel willow pearl ruby amber jade crystal
    coral olive berry cherry apple clover fern forest ocean brook meadow dawn eve noel carol christian
    angel king prince princess duke earl major baron bishop deacon pastor chase
    will mark bill bob pat sue rob don art guy jack frank grant lance miles chip rocky cliff glen dale wade
    rich drew sunday ash bay kit max dot happy lucky baby mum dad nan staff team boy man young little
    long low black blue red white brown green gray grey golden sterling page reading
    my you he she we so to or go by do me no oh hi all any just even ever more some well then than
    can may will must shall chance main deep west east north south home heart love hello thanks
    dear welcome special super great good best big new old
    """
)

# Words that end the name of a place, a venue, an organisation or an event: "Park Road", "the Grace Room",
# "Rose Hill Primary School", "Tyler Hughes Memorial Cup". A name followed by one of these is not a person,
# and one of these is not a surname ("Grace Hall", "Holly Park").
PLACE_WORDS = _words(
    """
    road rd street st lane avenue ave close drive way crescent gardens garden park square place terrace
    grove hill hills rise view court walk row green common field fields wood woods forest valley vale
    bridge brook cross gate end side mount heath moor meadow meadows dale top bank
    hall halls room rooms house centre center library church chapel cathedral abbey mosque temple
    synagogue academy school schools primary infant infants junior juniors nursery nurseries preschool
    college university campus trust foundation fund charity society association network project
    programme hub award awards cup trophy shield prize medal day days week weekend fair festival party
    parties appeal club group groups team café cafe kitchen theatre museum gallery stadium arena pool
    leisure sports memorial hospital ward surgery clinic estate farm market station castle lodge cottage
    services service council borough show story stories time hour session sessions space zone unit
    building wing suite studio shop store mill works beach island lake river canal bay quay wharf
    reserve zoo aquarium village town city county district ward street's road's hotel inn pub arms
    tavern bakery pantry larder bank foodbank night morning afternoon evening service
    fun games challenge walk run swim ride trail hunt picnic lunch breakfast tea dinner supper
    ball disco concert play panto pantomime service mass carols carol easter christmas
    """
)

# Words before a name that say it is an adult's: "Councillor Jane Smith", "our CEO Sarah Brown".
ADULT_WORDS = _words(
    """
    mr mrs ms miss mx dr doctor prof professor rev revd reverend sir dame lord
    lady cllr councillor councilor mayor mp msp mep minister baroness baron prince princess king queen
    captain officer pc sgt sergeant insp inspector supt det hon coach chef nurse midwife saint st ceo chair chairman chairwoman
    chairperson trustee trustees volunteer volunteers manager coordinator co-ordinator worker director
    founder patron author illustrator writer teacher headteacher head principal sponsor donor speaker
    guest singer artist photographer ambassador colleague colleagues staff president secretary treasurer
    mentor presenter actor actress comedian footballer player poet broadcaster journalist reporter
    vicar imam rabbi priest canon bishop
    """
)
# Titles: an adult's, before a name ("Cllr Ann Baxter", "Dr. Patel", "Sgt Lee Hall"). A title is never the
# first name of a full name, whatever the names data says (it has "Cllr" and "Sgt" as first names, from people
# who typed their title there), and the name after it is an adult's.
TITLES = _words("mr mrs ms miss mx dr prof rev revd sir dame lord lady cllr councillor pc sgt insp supt det hon")
# A title written with a full stop ("Dr. Ann Baxter") ends no sentence.
_TITLE_STOP = re.compile(r"\b(?:" + "|".join(sorted(TITLES)) + r")\.\s*$", re.IGNORECASE)
# Well-known full names that are not children's: shops, characters, authors FiG's posts mention.
FAMOUS = frozenset(
    name.strip()
    for name in """
    john lewis|ted baker|harry potter|peter pan|peter rabbit|robin hood|mary poppins|father christmas
    |ronald mcdonald|roald dahl|julia donaldson|david walliams|joe wicks|marcus rashford|jamie oliver
    |eric carle|judith kerr|beatrix potter|enid blyton|michael rosen|axel scheffler
    """.replace("\n", "").split("|")
) - {""}
# Roles written after a name: "Jane Smith MP", "Sarah Brown, our CEO", "Sarah Brown (trustee)".
_AFTER_ADULT = re.compile(
    r"^(?:\s*,?\s*\(?\s*(?:our|the|a|fig'?s|fig’s)?\s*(?:new\s+)?(?:" + "|".join(sorted(ADULT_WORDS)) + r")\b"
    r"|\s+(?:MP|MSP|MEP|OBE|MBE|CBE|QC|KC|JP)\b)",
    re.IGNORECASE,
)

# Small words that may stand between a name and what is said about it: "Maisie from Year 3",
# "Maisie, 7, who is in Reception", "Year 3 pupil Maisie".
_GLUE = _words(
    "from in at of the who is who's whos s and our a an pupil pupils student students star winner class "
    "attends attending goes go went started starts starting joined joins joining to this week"
)
# A teacher named on the way: "Jayden in Mrs Patel's Reception class".
_TEACHER = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+[A-Z][\w'’-]*(?:['’]s)?")
_MAX_GLUE_WORDS = 5

_NUMBER = r"(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen)"
_AGE = re.compile(
    r"\b(?:aged?|age:)\s*" + _NUMBER + r"\b(?:\s*(?:months?|weeks?|years?))?"  # aged 6, age 4, aged 18 months
    r"|\(\s*\d{1,2}\s*(?:months?|weeks?|yrs?|years?)?\s*\)"  # (6), (18 months)
    r"|\b" + _NUMBER + r"[- ](?:years?|months?|weeks?|yrs?)[- ]olds?\b"  # 6-year-old
    r"|\b(?:who\s+is|who's|turned|turns|is\s+now)\s+" + _NUMBER + r"\b"  # who is 6, turned 4
    r"|\bis\s+" + _NUMBER + r"(?=\s+(?:today|tomorrow|years?\s+old|this\s+week)\b)"  # is 8 today
    r"|\b\d{1,2}(?:st|nd|rd|th)\s+birthday\b",  # 6th birthday
    re.IGNORECASE,
)
_AGE_AFTER_COMMA = re.compile(r"^\s*,\s*(\d{1,2})\s*(?=,|\)|[.!?]|$|\s+(?:and|from|who|is|has|was|of|in|at)\b)")
# What makes a word that is also a name ("Summer", "Grace") a name: an age or a year group right after it.
_RIGHT_AFTER = re.compile(
    r"\s*,?\s*(?:\(\s*\d{1,2}\s*\)|aged?\s+" + _NUMBER + r"\b|\(\s*(?:Year\s?\d|Y\d|Reception|P[1-7]))",
    re.IGNORECASE,
)
_SPELLED_YEAR = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen)"
# Year 2, Yr 2, Y2, Y 2, year-2, Year Two (not "this year one of us"), Reception, Nursery, P2.
_YEAR_GROUP = re.compile(
    r"\b(?:(?:[Yy]ear|YEAR|[Yy]rs?|YR|Y)[\s.-]?(?:1[0-3]|[1-9])"
    r"|(?:[Yy]ear|YEAR)[\s-](?i:" + _SPELLED_YEAR + r")(?!\s+of\b)"
    r"|Reception(?:\s+[Cc]lass)?|Nursery|P[1-7]|[Nn]ursery\s+[Cc]lass|[Tt]oddler\s+[Rr]oom|[Bb]aby\s+[Rr]oom)\b"
)
_CAP = r"(?:[A-Z][\w'’.-]*|of|the|and|&|C\s+of\s+E|CE|RC)"
_SCHOOL = re.compile(
    r"\b(?:St\.?\s+)?[A-Z][\w'’-]*(?:\s+" + _CAP + r"){0,5}?\s+"
    r"(?:Primary|Infants?|Juniors?|Nursery|Academy|School|College|Pre-?[Ss]chool|Preschool|High|Grammar"
    r"|Day\s+Nursery|Children'?s\s+Centre|Kindergarten|Playgroup|Pre-?school)\b"
    r"(?:\s+(?:School|Academy|and\s+Nursery|&\s+Nursery|Nursery))?"
)
# A school or nursery named in lower case, as posts typed in a hurry are ("busy bees nursery", "oakfield
# primary"): one to three lower-case words before the kind of school. The words that say which school are what
# is left after the small words and the words that say only what kind it is ("the local primary school", "forest
# school", "secondary school" name none).
_SCHOOL_LOWER = re.compile(
    r"\b((?:[a-z][a-z'’-]*\s+){1,3})"
    r"(?:primary|infants?|juniors?|nursery|academy|school|pre-?school|kindergarten|playgroup)\b(?:\s+school\b)?"
)
_NOT_SCHOOL_NAMES = _words(
    "local secondary high new big little old same nearby village special forest summer holiday home sunday state "
    "private primary infant infants junior juniors nursery baby toddler day his her their my your its every each "
    "any that this next last first"
)
_CLASS = re.compile(
    r"\b[A-Z][a-z]+\s+[Cc]lass\b|\b[Cc]lass\s+(?:[A-Z][a-z]+|\d{1,2}[A-Z]?)\b|\b\d[A-Z]{1,2}\b(?=\s+class)"
)

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’]*(?:-[A-Za-z][A-Za-z'’]*)*")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'’”)]*\s+|\n+|:\s+")

_FAMILY = re.compile(
    r"\b[Tt]he\s+(?P<surname>[A-Z][A-Za-z'’-]+)\s+"  # the Hussain family, the Okafor kids
    r"(?:[Ff]amily|kids|children|twins|triplets|girls|boys|brothers|sisters|household|clan)\b"
    # the Smiths from, the Mahmoods who have just moved to
    r"|\b[Tt]he\s+(?P<plural>[A-Z][A-Za-z'’-]+?)(?:es|s)\b(?=,?\s+(?:from|of|who|living|moving|moved|have|has|are|were|will)\b)"
)
_MOVED = r"(?:(?:have|has|'ve|’ve)\s+)?(?:(?:just|recently|now)\s+)?(?:moved|moving|relocated)\s+(?:in)?to"
_PLACE = re.compile(
    r"^(?:\s*,)?\s+(?:who\s+lives?\s+(?:in|on|at)|living\s+(?:in|on|at)|who\s+are\s+from|who\s+"
    + _MOVED
    + r"|"
    + _MOVED
    + r"|from|of|in|near|on)\s+"
    r"(?P<place>[A-Z][a-z'’-]+(?:[\s-]+(?:[A-Z][a-z'’-]+|upon|on|le|under|in(?=-)))*)"
)
_MEMBER = re.compile(r"^\s*,?\s*(?:baby|little|son|daughter|brother|sister)\s+([A-Z][a-z'’-]+)")
_NOT_PLACES = _words(
    """
    year reception class nursery january february march april may june july august september october
    november december monday tuesday wednesday thursday friday saturday sunday christmas easter summer
    autumn winter spring halloween diwali eid ramadan hanukkah facebook instagram twitter tiktok the
    our fig fig's royal
    """
)


@dataclass(frozen=True)
class Item:
    """One thing that could identify a child: the name as written, why, and what was found with it."""

    words: str
    start: int
    why: str  # "is a first name and surname", "with ‘Year 3’ and ‘Oakfield Primary School’"
    context: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int
    strict: bool  # at the start of a sentence, or in one written In Title Case: the capital says nothing
    headline: bool = False  # in a sentence written In Title Case


_POSSESSIVE = re.compile(r"['’]s?$")


def _bare(word: str) -> str:
    """The word without a possessive: "Maisie's" -> "Maisie", "Hughes'" -> "Hughes"."""
    return _POSSESSIVE.sub("", word)


def _key(word: str) -> str:
    """A word as the names data writes names: "O'Neill" -> "Oneill", "McDonald's" -> "Mcdonald"."""
    word = _bare(word).replace("'", "").replace("’", "")
    return word[:1].upper() + word[1:].lower()


def _capitalised(word: str) -> bool:
    return word[:1].isupper()


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    starts = sorted({0} | {m.end() for m in _SENTENCE_END.finditer(text)})
    for i, begin in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        found = list(_TOKEN.finditer(text, begin, end))
        headline = len(found) >= 4 and sum(1 for m in found if _capitalised(m[0])) >= 0.6 * len(found)
        tokens += [_Token(m[0], m.start(), m.end(), n == 0 or headline, headline) for n, m in enumerate(found)]
    return tokens


def _lower_words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _TOKEN.findall(text)]


def _first_name(word: str, *, strict: bool, words_too: bool = False, lower: bool = False) -> bool:
    """A capitalised first name of the data ("Maisie", "Ella-Mae"); `strict`: also common at home; `words_too`:
    also one that is an English word ("Ruby"); `lower`: also written in lower case ("harry")."""
    if not (lower or _capitalised(word)):
        return False
    known = name_lists().home_first if strict else name_lists().first
    parts = [_key(part) for part in word.split("-")]
    if not words_too and all(p.lower() in WORD_NAMES for p in parts):  # "Grace", not "Evie-Grace"
        return False
    whole = "-".join(parts)
    return whole in known or all(p in known for p in parts)


def _surname(word: str, *, strict: bool, lower: bool = False) -> bool:
    """A capitalised surname of the data ("Hughes", "Smith-Jones") that is no place or English word."""
    if not (lower or _capitalised(word)):
        return False
    lists = name_lists()
    known = lists.home_last if strict else lists.last
    parts = [_key(part) for part in word.split("-")]
    if any(p.lower() in PLACE_WORDS or p.lower() in WORD_NAMES for p in parts):
        return False
    return all(p in known or p in lists.first for p in parts) and any(p in known for p in parts)


def _middle_name(word: str) -> bool:
    """A word that may stand inside a full name: "Amelia Rose Hughes"."""
    lists = name_lists()
    key = _key(word)
    return _capitalised(word) and key.lower() not in PLACE_WORDS and (key in lists.first or key in lists.last)


def _after_adult(text: str, start: int) -> bool:
    """A title or job just before: "Councillor Jane Smith", "our CEO Sarah Brown", "volunteer Sam"."""
    before = [w.rstrip(".") for w in _lower_words(text[max(0, start - 40) : start])[-2:]]
    if _SENTENCE_END.search(text[max(0, start - 3) : start]) and not _TITLE_STOP.search(
        text[max(0, start - 8) : start]
    ):
        return False
    return bool(before) and (before[-1] in ADULT_WORDS or (len(before) == 2 and before[0] in ADULT_WORDS))


def _title(word: str) -> bool:
    return _bare(word).rstrip(".").lower() in TITLES


def _glue(gap: str) -> bool:
    """Only small joining words (and no end of sentence) between two things: they are said together."""
    if len(gap) > 60 or _SENTENCE_END.search(gap):
        return False
    words = _lower_words(_TEACHER.sub(" ", gap))
    return len(words) <= _MAX_GLUE_WORDS and all(w in _GLUE or _bare(w) in _GLUE for w in words)


def _contexts(text: str) -> list[tuple[int, int, str]]:
    """The ages, year groups, schools and classes in the text, as (start, end, words); none inside another
    ("Nursery" in "Little Acorns Nursery")."""
    found = set(_lower_schools(text))
    for pattern in (_AGE, _YEAR_GROUP, _SCHOOL, _CLASS):
        found |= {(m.start(), m.end(), m[0].strip()) for m in pattern.finditer(text)}
    return sorted(c for c in found if not any(o != c and o[0] <= c[0] and c[1] <= o[1] for o in found))


def _lower_schools(text: str) -> list[tuple[int, int, str]]:
    """Schools and nurseries named in lower case (_SCHOOL_LOWER): the words right before the kind of school that
    name it, back to the first small word or word of kind ("oliver at oakfield primary" -> "oakfield primary")."""
    found = []
    for m in _SCHOOL_LOWER.finditer(text):
        start = None
        for word in reversed(list(re.finditer(r"[a-z][a-z'’-]*", m[1]))):
            if word[0] in _GLUE or word[0] in _NOT_SCHOOL_NAMES:
                break
            start = m.start() + word.start()
        if start is not None:  # a word names the school
            found.append((start, m.end(), text[start : m.end()]))
    return found


def _beside(text: str, start: int, end: int, contexts: list[tuple[int, int, str]]) -> tuple[str, ...]:
    """What of `contexts` is said with the name at text[start:end]: right after it or right before it, with
    only small words between, and what follows those in a chain ("Maisie from Year 3 at Oakfield Primary")."""
    said: dict[int, str] = {}
    reach = end
    for c_start, c_end, words in contexts:
        if c_end <= start and _glue(text[c_end:start]):
            said[c_start] = words
        elif c_start >= reach and _glue(text[reach:c_start]):
            said[c_start] = words
            reach = max(reach, c_end)
    return tuple(said[k] for k in sorted(said))


def _inside(start: int, end: int, spans: Iterable[tuple[int, int, str]]) -> bool:
    return any(s <= start and end <= e for s, e, _ in spans)


def _quoted(words: Iterable[str]) -> str:
    quoted = [f"‘{w}’" for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _age_after(text: str, end: int) -> str | None:
    """An age written after a comma: "Maisie, 6," -> "6"."""
    m = _AGE_AFTER_COMMA.match(text[end:])
    return m[1] if m else None


def _full_names(text: str, tokens: list[_Token], contexts, places, staff_names) -> list[tuple[int, int, int, int]]:
    """Full names, as (first token, last token, start, end): a first name, then first names or surnames, ending
    with a surname ("Amelia Rose Hughes"). A first name that is also a word ("Ruby") starts one only in the
    middle of a sentence or with an age, a year group, a school or a class beside it; a name in lower case
    ("harry smith") only with one of those beside it, and only common names at home."""
    found = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        lower = not _capitalised(token.text)
        strict = token.strict or lower
        if (
            _title(token.text)
            or not _first_name(token.text, strict=strict, words_too=True, lower=lower)
            or _after_adult(text, token.start)
        ):
            i += 1
            continue
        j, last = i + 1, None
        while j < len(tokens) and text[tokens[j - 1].end : tokens[j].start] in (" ", "\u00a0"):
            if _capitalised(tokens[j].text) == (not lower) and _surname(tokens[j].text, strict=strict, lower=lower):
                last = j
            elif lower or not _middle_name(tokens[j].text):
                break
            j += 1
        if last is None:
            last = _unknown_surname(text, tokens, i, contexts)
        if last is None:
            i += 1
            continue
        start, end = token.start, tokens[last].end
        words = _bare(text[start:end])
        end = start + len(words)
        after = tokens[last + 1] if last + 1 < len(tokens) else None
        beside = _beside(text, start, end, contexts) or _age_after(text, end)
        if (
            ((lower or (token.strict and not _first_name(token.text, strict=strict))) and not beside)
            or (after is not None and text[end : after.start] in (" ", "\u00a0") and after.text.lower() in PLACE_WORDS)
            or _AFTER_ADULT.match(text[end:])
            or _inside(start, end, places)
            or (name := " ".join(words.lower().split())) in FAMOUS
            or name in staff_names()  # read only for a full name that would be reported
        ):
            i = last + 1 if not lower else i + 1  # "Robin Hood Way", "Jane Smith MP", a member of staff
            continue
        found.append((i, last, start, end))
        i = last + 1
    return found


def _unknown_surname(text: str, tokens: list[_Token], i: int, contexts) -> int | None:
    """A surname the data does not have: the capitalised word after a first name, when an age, a year group, a
    school or a class is said with the two ("Maisie Norland at Oakfield Primary"). In a sentence written In Title
    Case only with a small word after it ("Maisie Loves Oakfield Primary" has none), and never after a first
    name that is also a word ("Summer Scheme at Oakfield Primary")."""
    token = tokens[i]
    if i + 1 >= len(tokens) or not _first_name(token.text, strict=token.strict):
        return None
    word = tokens[i + 1]
    after = tokens[i + 2] if i + 2 < len(tokens) else None
    if token.headline and (after is None or after.text[:1].isupper()):  # "Maisie Loves Oakfield Primary"
        return None
    key = _key(word.text).lower()
    if (
        text[token.end : word.start] not in (" ", "\u00a0")
        or not word.text[:1].isupper()
        or not word.text[1:].replace("-", "").replace("'", "").replace("’", "").islower()
        or len(key) < 3
        or any(key in words for words in (PLACE_WORDS, WORD_NAMES, _NOT_PLACES, _GLUE, ADULT_WORDS))
        or _first_name(word.text, strict=False, words_too=True)
        or not _beside(text, token.start, word.start + len(_bare(word.text)), contexts)
    ):
        return None
    return i + 1


def identifying_items(text: str, *, staff_names: Callable[[], frozenset[str]] = frozenset) -> list[Item]:
    """What in `text` could identify a child, whoever the child is: the register plays no part.

    `staff_names`: gives the full names of FiG staff in lower case, which are adults' and not reported; called
    only when a full name is found."""
    if not text or not text.strip():
        return []
    tokens = _tokens(text)
    contexts = _contexts(text)
    # Schools and classes are named after people and words: "Rose Hill Primary" has no child in it.
    places = [(m.start(), m.end(), m[0]) for pattern in (_SCHOOL, _CLASS) for m in pattern.finditer(text)]
    places += _lower_schools(text)
    items: list[Item] = []
    used: set[int] = set()

    for first, last, start, end in _full_names(text, tokens, contexts, places, staff_names):
        said = _beside(text, start, end, contexts)
        age = _age_after(text, end)
        why = "is a first name and surname" + (f", with the age ‘{age}’" if age else "")
        why += f", with {_quoted(said)}" if said else ""
        items.append(Item(text[start:end], start, why, said))
        used.update(range(first, last + 1))

    for n, token in enumerate(tokens):
        if n in used or _title(token.text) or _inside(token.start, token.end, places):
            continue
        word = _bare(token.text)
        age = _age_after(text, token.start + len(word))
        said = _beside(text, token.start, token.end, contexts)
        if not (age or said) or _after_adult(text, token.start):
            continue
        if not _capitalised(token.text):
            # A first name in lower case ("little noah from busy bees nursery"), as the register reads one: only
            # a name common at home that is no English word, with an age, a year group, a school or a class
            # said after it. Before it, the words are what it is ("10th birthday bash": "bash" is a name too).
            said = _beside(text, token.end, token.end, [c for c in contexts if c[0] >= token.end])
            if (age or said) and _first_name(word, strict=True, lower=True):
                why = _quoted(said) if said else f"the age ‘{age}’"
                items.append(Item(word, token.start, f"with {why}", said))
            continue
        # A word that is also a name is one with an age or a year group right after it: "Summer, aged 6",
        # "Summer (6)", "Summer, 6,", "Grace (Year 1)" (not "Happy 6th birthday").
        sure = bool(age) or _RIGHT_AFTER.match(text, token.end) is not None
        if not _first_name(word, strict=token.strict) and not (
            sure and _first_name(word, strict=False, words_too=True)
        ):
            continue
        why = " and ".join(([f"the age ‘{age}’"] if age else []) + ([_quoted(said)] if said else []))
        items.append(Item(word, token.start, f"with {why}", said))

    lists = name_lists()
    for m in _FAMILY.finditer(text):
        surname = m["surname"] or m["plural"]
        key = _key(surname)
        if key.lower() in PLACE_WORDS or key.lower() in WORD_NAMES or key.lower() in _NOT_PLACES:
            continue
        if key not in (lists.last if m["surname"] else lists.home_last):
            continue
        place = _PLACE.match(text[m.end() :])
        member = _MEMBER.match(text[m.end() :])
        if place and place["place"].split()[0].lower() not in _NOT_PLACES:
            items.append(Item(m[0], m.start(), f"with the place ‘{place['place']}’", (place["place"],)))
        elif said := _beside(text, m.start(), m.end(), contexts):
            items.append(Item(m[0], m.start(), f"with {_quoted(said)}", said))
        elif member:
            items.append(Item(m[0], m.start(), f"with the first name ‘{member[1]}’", (member[1],)))
        elif home := _home(text, m.start(), m.end()):
            items.append(Item(m[0], m.start(), f"with the address ‘{home}’", (home,)))

    return sorted(items, key=lambda item: item.start)


def _home(text: str, start: int, end: int) -> str | None:
    """A street address or postcode in the same sentence as a family's surname: where the family lives, said
    further on ("The Patels are hosting it at their house, 27 Cherry Tree Drive"). FiG's own address is not."""
    from social.posts.checks.contact import contact_matches

    begin, finish = _sentence(text, start, end)
    found = [m.text for m in contact_matches(text[end:finish]) if m.kind in ("address", "postcode")]
    return found[0] if found else None


def _staff_names() -> frozenset[str]:
    """The full names of FiG staff, in lower case (one query): adults, whose full names a post may give."""
    from staff.models import User
    from staff.roles import Role

    names = (
        User.objects.filter(is_active=True, groups__name__in=[role.value for role in Role])
        .exclude(full_name="")
        .order_by()
        .values_list("full_name", flat=True)
        .distinct()
    )
    return frozenset(" ".join(name.split()).lower() for name in names)


def identifying_finding(text: str) -> Finding | None:
    """The "identifying" finding: each thing found and why. No query unless a full name is found."""
    items = identifying_items(text, staff_names=cache(_staff_names))
    if not items:
        return None
    matches = tuple(dict.fromkeys(words for item in items for words in (item.words, *item.context) if words in text))
    said = "; ".join(f"‘{item.words}’ {item.why}" for item in items)
    return Finding(
        "identifying",
        CHECK_TITLES["identifying"],
        f"{said}. Children must not be identifiable from what FiG shares: a child's first name with a surname, an "
        "age, a year group, a school or a class, or a family's surname with where they live, can identify them. "
        "If this is an adult, say so when you dismiss it.",
        matches,
    )


# --- the register ------------------------------------------------------------------------------------------


# A full stop that ends no sentence: after a title or an initial ("Mrs. Hughes", "Tyler H. won").
_ABBREVIATION = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Mx|Dr|St|Rev|Revd|Prof)|(?<![\w'’])[A-Z])$")
# An initial after a first name: "Tyler H." (the surname's), "Tyler H won".
_INITIAL = re.compile(r"\s+([A-Z])(?:\.|(?![\w'’]))")


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """Where the sentence with text[start:end] in it starts and ends."""
    begin, finish = 0, len(text)
    for m in _SENTENCE_END.finditer(text):
        if m[0].startswith(".") and _ABBREVIATION.search(text[max(0, m.start() - 8) : m.start()]):
            continue
        if m.end() <= start:
            begin = m.end()
        elif m.start() >= end:
            finish = m.start()
            break
    return begin, finish


def _narrowed(text: str, mention: RegisterMention, contexts) -> bool:
    """A register child's first name, anywhere it is written, said with their surname's initial ("Tyler H."),
    or in the same sentence as a surname of their family ("Tyler, Mrs Hughes' son") or an age, a year group,
    a school or a class. Written in lower case ("tyler"), only with the initial, or an age, a year group, a
    school or a class right beside it ("well done tyler in year 2")."""
    initials = {surname[0].upper() for surname in mention.surnames if surname[:1].isalpha()}
    for start, end in mention.spans:
        end = start + len(_bare(text[start:end]))
        initial = _INITIAL.match(text, end)
        if (initial and initial[1] in initials) or _age_after(text, end) or _beside(text, start, end, contexts):
            return True
        if not text[start].isupper():
            continue
        begin, finish = _sentence(text, start, end)
        sentence = text[begin:start] + " " * (end - start) + text[end:finish]
        if any(name_said(surname, sentence) for surname in mention.surnames):
            return True
        if any(begin <= c_start and c_end <= finish for c_start, c_end, _ in contexts):
            return True
    return False


def register_finding(text: str) -> Finding | None:
    """The register names in `text`, echoing at most MAX_ECHOED of them. It cannot be dismissed when it names a
    child whose consent does not allow online use (see the module's docstring). Two queries, and four more
    (the consent positions) when a name that can block is found."""
    from consents.models import Purpose
    from consents.selectors import consents_for_children

    contexts = _contexts(text)
    mentions = []
    narrowing = []
    for m in register_mentions(text, spellings=True):
        narrowed = m.full or (m.who == "child" and _narrowed(text, m, contexts))
        if m.full or m.capital or narrowed:  # a first name only in lower case counts when narrowed
            mentions.append(m)
            narrowing += [m] if narrowed else []
    if not mentions:
        return None
    positions = consents_for_children({child_id for m in narrowing for child_id in m.child_ids})
    refused = {child_id for child_id, position in positions.items() if not position.allows(Purpose.ONLINE)}
    blocking = any(refused.intersection(m.child_ids) for m in narrowing)
    if len(mentions) > MAX_ECHOED:
        matches: tuple[str, ...] = ()
        said = "The text has the names of several children or carers FiG works with."
    else:
        matches = tuple(dict.fromkeys(m.words for m in mentions))
        said = f"{_quoted(matches)} {'matches' if len(matches) == 1 else 'match'} a child or carer FiG works with."
    if blocking:
        explanation = (
            f"{said} It names a child, or the family of a child, whose parent or carer has not agreed to FiG "
            "using it online. Take the name out: this cannot be dismissed."
        )
    else:
        explanation = f"{said} Children must not be identifiable from what FiG shares."
    return Finding("names", CHECK_TITLES["names"], explanation, matches, dismissible=not blocking)


def people_findings(text: str) -> list[Finding]:
    """The two "children identifiable" findings: names from the register, then anything else identifying."""
    return [finding for finding in (register_finding(text), identifying_finding(text)) if finding is not None]

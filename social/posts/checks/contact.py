"""Contactable: phone numbers, email addresses, UK postcodes, street addresses, profile links and handles.

Phone numbers are found by `phonenumbers` (Google's libphonenumber) in any usual form (+44, 0044, "(0)",
spaces, dots, dashes, even between every digit), so dates, times, prices, years and reference numbers are not
taken for them; a number written with the letter O for zero ("077OO 9OO123") is read with each O as a 0. An
email address is found as written ("jo@example.org") or written out to hide it ("jo.hughes at example dot org",
"jo.hughes(at)example.org", "jo.hughes @ example.org"), and compared without its +tag, in any case. A street
address needs a house number: "12 Acacia Avenue" and "Flat 3, 14 Park Road" are addresses, "the church hall on
Park Road" is not. A postcode may be written in any case, with or without its space ("LS11 5AB", "ls115ab"); an
outward code alone ("LS11") is an area, not an address, and is not flagged.

FiG's own public contacts (FIG_PUBLIC_CONTACTS) are allowed: each configured value is read with the same
rules, so phones compare by their E.164 form, emails, handles and links in any case, and a link to one of
FiG's own pages covers the pages under it ("facebook.com/FiGCharity/posts/1") and the same name as a handle.

Contact details of a family FiG works with (a carer's phone number or email address in the consent register)
give a finding that cannot be dismissed; any other contact details give one that can, with a written reason.

Another organisation's public helpline ("Parentline North is there for parents 24/7 on 020 7946 0321") is not
flagged: signposting families to help is part of FiG's work, and a public line makes no child contactable. It
is an organisation's line when the number is not a mobile, a helpline word ("helpline", "advice line", "24/7",
"freephone", "lines open") is in its sentence, and so is an organisation's name (a capitalised word that is no
first name), while no first name is: "ring Sharon's advice line on …" stays a finding. A carer's number from
the register is a family's whatever words are around it, and still cannot be dismissed.
"""

from __future__ import annotations

import contextlib
import operator
import re
from dataclasses import dataclass
from functools import lru_cache, reduce

import phonenumbers
from django.conf import settings
from django.db.models import F, Q, Value
from django.db.models.functions import Replace
from phonenumbers import Leniency, PhoneNumberMatcher, PhoneNumberType, geocoder

from social.posts.checks.base import CHECK_TITLES, Finding

# Ofcom's numbers for drama (https://www.ofcom.org.uk/phones-and-broadband/phone-numbers/numbers-for-drama):
# most are in valid ranges already, but libphonenumber calls 07700 900xxx and 01632 960xxx not valid. They are
# what examples and tests use, so they count as phone numbers; nothing else libphonenumber rejects does.
_DRAMA = re.compile(r"\+44(?:7700900|1632960)\d{3}")
# A number after one of these words is a reference, not a phone number ("Registered charity 1234567").
_REFERENCE_BEFORE = re.compile(
    r"\b(?:ref|reference|charity|company|registration|registered|reg|invoice|order|account|booking|case|policy|isbn)"
    r"(?:\s+(?:no|number|num))?\.?\s*[:#.]?\s*$",
    re.IGNORECASE,
)
_PHONE_KINDS = {
    PhoneNumberType.MOBILE: "mobile number",
    PhoneNumberType.FIXED_LINE: "landline number",
    PhoneNumberType.TOLL_FREE: "freephone number",
    PhoneNumberType.PREMIUM_RATE: "premium-rate number",
    PhoneNumberType.SHARED_COST: "phone number",
    PhoneNumberType.UAN: "phone number",
    PhoneNumberType.PERSONAL_NUMBER: "personal phone number",
}

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# An email address written out so that a machine would not take it: "jo at example dot org", "jo(at)example.org",
# "jo @ example.org". The "at" and "dot" as words or in brackets; "@" with a space beside it.
_AT = r"(?:\s*[(\[{<]\s*at\s*[)\]}>]\s*|\s+@\s*|\s*@\s+|\s+at\s+)"
_DOT = r"(?:\s*[(\[{<]\s*dot\s*[)\]}>]\s*|\s+dot\s+|\.)"
_WRITTEN_EMAIL = re.compile(
    r"(?<![\w.+@-])(?P<local>[^\W_][\w.+-]*)(?P<at>" + _AT + r")(?P<domain>[^\W_][\w-]*(?:" + _DOT + r"[^\W_][\w-]*)+)"
    r"(?![\w-]|\.[^\W_])",
    re.IGNORECASE,
)
_EMAIL_CUE = re.compile(r"\b(?:e-?mail|mail|contact|write to|message)\b[^.!?]*$", re.IGNORECASE)
_DOT_WRITTEN = re.compile(r"\s*[(\[{<]\s*dot\s*[)\]}>]\s*|\s+dot\s+", re.IGNORECASE)
# The last part of a written-out address must be one of these, so "lunch @ 12.30" and "tea at St.James" are not.
_TOP_LEVEL = {
    "com", "org", "net", "uk", "gov", "edu", "ac", "co", "io", "info", "biz", "me", "us", "ca", "au", "nz", "ie",
    "eu", "de", "fr", "es", "it", "nl", "sch", "nhs", "scot", "wales", "cymru", "london", "app", "dev", "online",
}  # fmt: skip

# Every UK postcode area; the outward code is the area, a district digit and an optional digit or letter.
_AREAS = (
    "AB|AL|BA|BB|BD|BF|BH|BL|BN|BR|BS|BT|BX|B|CA|CB|CF|CH|CM|CO|CR|CT|CV|CW|DA|DD|DE|DG|DH|DL|DN|DT|DY|"
    "EC|EH|EN|EX|E|FK|FY|GL|GU|GY|G|HA|HD|HG|HP|HR|HS|HU|HX|IG|IM|IP|IV|JE|KA|KT|KW|KY|LA|LD|LE|LL|LN|LS|"
    "LU|L|ME|MK|ML|M|NE|NG|NN|NP|NR|NW|N|OL|OX|PA|PE|PH|PL|PO|PR|RG|RH|RM|SA|SE|SG|SK|SL|SM|SN|SO|SP|SR|"
    "SS|ST|SW|SY|S|TA|TD|TF|TN|TQ|TR|TS|TW|UB|WA|WC|WD|WF|WN|WR|WS|WV|W|YO|ZE"
)
_POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])(?:GIR\s?0AA|(?:" + _AREAS + r")\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2})(?![A-Za-z0-9])",
    re.IGNORECASE,
)

_STREET_TYPES = (
    "Road|Rd|Street|St|Lane|Ln|Avenue|Ave|Close|Drive|Dr|Way|Crescent|Cres|Court|Ct|Place|Pl|Gardens|Gdns|"
    "Terrace|Grove|Hill|Mews|Row|Walk|Square|Sq|Park|View|Rise|Parade|Green|Vale|Croft|Fold|Wharf|Yard|"
    "Boulevard|Approach|Meadows?|Gate"
)
# A house number (12, 12a, 12-14), optionally after a flat or unit ("Flat 3, "), then one to three words of
# the street's name, each with a capital, then the kind of street in any case.
_STREET = re.compile(
    r"(?<![\w£$€.,:/-])(?:(?:Flat|Apartment|Apt|Unit)\s+\w{1,5},?\s+)?\d{1,4}[A-Za-z]?(?:[-–]\d{1,4}[A-Za-z]?)?,?\s+"
    r"(?:[A-Z][\w'’-]*\s+){1,3}(?i:" + _STREET_TYPES + r")\b"
)
# A number that counts things, not a house number: "our 3 Oak Street families", "Top 10 Summer Park Days".
_COUNT_BEFORE = re.compile(
    r"\b(?:top|the|our|all|these|those|over|about|around|nearly|almost|only|just|another|first|last|next|"
    r"year|class|room|week|day|term|group|table|aged?|page|step|level|stage|no\.?|number)\s+$",
    re.IGNORECASE,
)
# A street named as where someone lives, even without a house number: "the Fletchers, who live on Cross Flatts
# Grove". A street named as where a group meets ("the church hall on Park Road") is not an address.
_HOME_STREET = re.compile(
    r"\b(?:live|lives|lived|living)\s+(?:on|at|in)\s+"
    r"((?:[A-Z][\w'’-]*\s+){1,3}(?i:" + _STREET_TYPES + r"))\b"
)
_COUNT_AFTER = re.compile(
    r"^\s+(?:families|children|kids|parents|carers|residents|households|homes|houses|neighbours|people|days)\b",
    re.IGNORECASE,
)

_PROFILE_SITES = {
    "facebook.com": "Facebook",
    "fb.com": "Facebook",
    "fb.me": "Facebook",
    "m.me": "Messenger",
    "instagram.com": "Instagram",
    "instagr.am": "Instagram",
    "x.com": "X (Twitter)",
    "twitter.com": "X (Twitter)",
    "tiktok.com": "TikTok",
    "threads.net": "Threads",
    "threads.com": "Threads",
    "linkedin.com": "LinkedIn",
    "snapchat.com": "Snapchat",
    "youtube.com": "YouTube",
    "wa.me": "WhatsApp",
    "whatsapp.com": "WhatsApp",
}
_PROFILE = re.compile(
    r"(?<![\w.@/-])(?:https?://)?(?:(?:www|m|mobile|web|vm|api|chat)\.)?"
    r"(?:(?:facebook\.com|fb\.com|fb\.me|m\.me|instagram\.com|instagr\.am|x\.com|twitter\.com|tiktok\.com|"
    r"threads\.net|threads\.com|wa\.me|whatsapp\.com)/|linkedin\.com/in/|snapchat\.com/add/|"
    r"youtube\.com/(?:@|c/|channel/|user/))"
    r"[^\s<>\"'()\[\]{},]*\w",
    re.IGNORECASE,
)
_SITE = re.compile(r"^(?:https?://)?(?:(?:www|m|mobile|web|vm|api|chat)\.)?([^/]+)/(.*)$", re.IGNORECASE)
# A first part of a profile link that is a kind of page, not someone's name.
_NOT_A_NAME = {
    "groups", "events", "pages", "photo", "photos", "photo.php", "share", "sharer", "sharer.php", "watch", "p",
    "reel", "reels", "hashtag", "explore", "stories", "profile.php", "people", "permalink.php", "story.php", "send",
    "in", "add", "c", "channel", "user", "video", "status", "i",
}  # fmt: skip

_HANDLE = re.compile(r"(?<![\w@/.+-])@([A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?)(?![\w@])")
_TIME = re.compile(r"\d{1,2}(?:[.:]\d{2})?(?:am|pm)?|\d+", re.IGNORECASE)  # "@10am" is a time, "@2" a number


@dataclass(frozen=True)
class ContactMatch:
    """One contact detail: `text` as written in the post, from `start` to `end`; `why` says what it is;
    `keys` are its normal forms ("tel:+447700900123", "email:jo@example.org", "handle:jo", "link:…")."""

    text: str
    start: int
    end: int
    kind: str  # phone, email, postcode, address, profile, handle
    why: str
    keys: frozenset[str]


def _phone_why(number: phonenumbers.PhoneNumber, written: str) -> str:
    if number.country_code == 44:
        if _DRAMA.fullmatch(_e164(number)):
            kind = "mobile number" if number.national_number // 10**9 == 7 else "landline number"
        else:
            kind = _PHONE_KINDS.get(phonenumbers.number_type(number), "phone number")
        return f"‘{written}’ is a UK {kind}"
    country = geocoder.country_name_for_number(number, "en")
    return f"‘{written}’ is a phone number outside the UK ({country or '+' + str(number.country_code)})"


def _email_key(address: str) -> str:
    """An address in one form: lower case, without a +tag ("Jo.Hughes+FiG@Example.org" is jo.hughes@example.org,
    the same inbox)."""
    local, _, domain = address.lower().rpartition("@")
    return f"email:{local.split('+', 1)[0] or local}@{domain}"


def _written_emails(text: str) -> list[ContactMatch]:
    """Email addresses written out to hide them ("jo.hughes at example dot org", "jo.hughes(at)example.org",
    "jo.hughes @ example.org"), each with the address it stands for."""
    found = []
    for m in _WRITTEN_EMAIL.finditer(text):
        labels = [label for piece in _DOT_WRITTEN.split(m.group("domain")) for label in piece.split(".")]
        if labels[-1].lower() not in _TOP_LEVEL:
            continue
        # "at" as a bare word is everyday English ("see us at leeds.gov.uk", "look at this dot com"): it counts
        # with a name that looks like the start of an address ("jo.hughes", "jo_h", "jo22"), or with "dot"
        # written out after "email" or the like ("email jo at example dot org").
        if m.group("at").strip().lower() == "at" and not re.search(r"[._+\d]", m.group("local")):
            cued = _EMAIL_CUE.search(text[max(0, m.start() - 30) : m.start()])
            if not (cued and _DOT_WRITTEN.search(m.group("domain"))):
                continue
        address = f"{m.group('local')}@{'.'.join(labels)}"
        found.append(
            ContactMatch(
                m.group(0), m.start(), m.end(), "email",
                f"‘{m.group(0)}’ is an email address written out ({address.lower()})",
                frozenset({_email_key(address)}),
            )
        )  # fmt: skip
    return found


_NATIONAL = phonenumbers.PhoneNumberFormat.NATIONAL


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# A word of only zeros and the letter O ("077OO", "9OO123", "O"): read with each O as a 0 for phone numbers.
_O_FOR_ZERO = re.compile(r"(?<![^\W_])[0-9Oo]*[Oo][0-9Oo]*(?![^\W_])")


def phone_matches(text: str) -> list[ContactMatch]:
    """Every phone number in `text`, UK or not, that libphonenumber holds valid (or is one of Ofcom's drama
    numbers), but not a number written as a reference ("Registered charity 01234 567890"). A number written
    with the letter O for zero ("077OO 9OO123") counts too, when it has at least six real digits."""
    found: dict[int, ContactMatch] = {}
    _phone_scan(text, text, found)
    zeros = _O_FOR_ZERO.sub(lambda m: re.sub("[Oo]", "0", m.group()), text)  # the same length: spans carry over
    if zeros != text:
        _phone_scan(zeros, text, found, with_letters=True)
    return [found[start] for start in sorted(found)]


def _phone_scan(read: str, text: str, found: dict[int, ContactMatch], with_letters: bool = False) -> None:
    """Add the phone numbers libphonenumber finds in `read` to `found`, as `text` (the same length) has them."""
    for leniency in (Leniency.VALID, Leniency.POSSIBLE):
        for match in PhoneNumberMatcher(read, "GB", leniency=leniency):
            e164 = _e164(match.number)
            if leniency == Leniency.POSSIBLE and not _DRAMA.fullmatch(e164):
                continue
            if _REFERENCE_BEFORE.search(text[max(0, match.start - 40) : match.start]):
                continue
            if any(match.start < other.end and other.start < match.end for other in found.values()):
                continue
            written = text[match.start : match.end]
            if with_letters and (not re.search("[Oo]", written) or len(re.findall(r"\d", written)) < 6):
                continue
            why = _phone_why(match.number, written)
            if with_letters:
                why += f", written with the letter O for 0 ({phonenumbers.format_number(match.number, _NATIONAL)})"
            found[match.start] = ContactMatch(written, match.start, match.end, "phone", why, frozenset({f"tel:{e164}"}))


def uk_phone_numbers(text: str) -> list[str]:
    """UK landlines and mobiles in any usual form: 0113 496 0000, 020 7946 0000, 07700 900 123, +44 7700 900123."""
    return [m.text for m in phone_matches(text) if any(key.startswith("tel:+44") for key in m.keys)]


def _link(written: str) -> str:
    """A profile link in one form: no scheme, no www. or m., lower case, no slash at the end."""
    site = _SITE.match(written)
    host, path = (site.group(1), site.group(2)) if site else (written, "")
    return f"{host.lower()}/{path.lower()}".rstrip("/")


def _profile_match(match: re.Match) -> ContactMatch:
    written = match.group(0)
    link = _link(written)
    host, _, path = link.partition("/")
    site = _PROFILE_SITES.get(host, "social media")
    keys = {f"link:{link}"}
    digits = re.search(r"(?:^|phone=)\+?(\d{7,15})", path) if site == "WhatsApp" else None
    if digits:  # wa.me/447700900123: a chat with that phone number
        with contextlib.suppress(phonenumbers.NumberParseException):
            keys.add(f"tel:{_e164(phonenumbers.parse('+' + digits.group(1)))}")
        why = f"‘{written}’ is a WhatsApp link to a phone number"
    else:
        name = next((part.lstrip("@") for part in path.split("/") if part.lstrip("@") not in _NOT_A_NAME), "")
        if name and "?" not in name:
            keys.add(f"handle:{name}")
        why = f"‘{written}’ is a link to a profile on {site}"
    return ContactMatch(written, match.start(), match.end(), "profile", why, frozenset(keys))


def _candidates(text: str) -> list[ContactMatch]:
    """Every contact detail in `text`, FiG's own included; where two overlap, the first kind listed wins
    (a link, then an email address, a phone number, a postcode, an address, a handle)."""
    found: list[ContactMatch] = [_profile_match(m) for m in _PROFILE.finditer(text)]
    found += [
        ContactMatch(m.group(0), m.start(), m.end(), "email", f"‘{m.group(0)}’ is an email address",
                     frozenset({_email_key(m.group(0))}))
        for m in _EMAIL.finditer(text)
    ]  # fmt: skip
    found += _written_emails(text)
    found += phone_matches(text)
    found += [
        ContactMatch(m.group(0), m.start(), m.end(), "postcode", f"‘{m.group(0)}’ is a UK postcode",
                     frozenset({"postcode:" + re.sub(r"\s", "", m.group(0)).upper()}))
        for m in _POSTCODE.finditer(text)
    ]  # fmt: skip
    found += [
        ContactMatch(m.group(0), m.start(), m.end(), "address", f"‘{m.group(0)}’ is a street address",
                     frozenset({"address:" + " ".join(m.group(0).lower().replace(",", " ").split())}))
        for m in _STREET.finditer(text)
        if not _COUNT_BEFORE.search(text[max(0, m.start() - 20) : m.start()]) and not _COUNT_AFTER.match(text[m.end() :])
    ]  # fmt: skip
    found += [
        ContactMatch(m.group(1), m.start(1), m.end(1), "address", f"‘{m.group(1)}’ is the street where someone lives",
                     frozenset({"address:" + " ".join(m.group(1).lower().split())}))
        for m in _HOME_STREET.finditer(text)
    ]  # fmt: skip
    found += [
        ContactMatch(m.group(0), m.start(), m.end(), "handle", f"‘{m.group(0)}’ is a social media handle",
                     frozenset({f"handle:{m.group(1).lower()}"}))
        for m in _HANDLE.finditer(text)
        if not _TIME.fullmatch(m.group(1))
    ]  # fmt: skip
    kept: list[ContactMatch] = []
    for match in found:
        if not any(match.start < other.end and other.start < match.end for other in kept):
            kept.append(match)
    return sorted(kept, key=lambda m: m.start)


def _own_keys() -> tuple[frozenset[str], tuple[str, ...]]:
    """FiG's public contacts read with the same rules as a post: their keys, and their links."""
    return _keys_of(tuple(settings.FIG_PUBLIC_CONTACTS))


@lru_cache(maxsize=8)
def _keys_of(contacts: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """_own_keys, read once for each setting rather than on every check."""
    keys: set[str] = set()
    for value in contacts:
        value = value.strip()
        found = _candidates(value)
        if not found and re.fullmatch(r"[\d\s()+.-]+", value):  # a number the matcher would not take alone
            with contextlib.suppress(phonenumbers.NumberParseException):
                keys.add(f"tel:{_e164(phonenumbers.parse(value, 'GB'))}")
        for match in found:
            keys |= match.keys
    return frozenset(keys), tuple(key.removeprefix("link:") for key in keys if key.startswith("link:"))


def _is_own(match: ContactMatch, own_keys: frozenset[str], own_links: tuple[str, ...]) -> bool:
    if match.keys & own_keys:
        return True
    link = next((key.removeprefix("link:") for key in match.keys if key.startswith("link:")), None)
    return link is not None and any(link.startswith(own + "/") or link.startswith(own + "?") for own in own_links)


_HELPLINE_WORDS = re.compile(
    r"\b(?:help\s?lines?|advice\s?lines?|support\s?lines?|parent\s?lines?|phone\s?lines?|free\s?phone|"
    r"free\s+to\s+call|call\s+free|24/7|24\s*hours?|24\s*hrs?|lines?\s+(?:are\s+)?open)(?!\w)",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+(?=\s|$)|\n|$)")
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*")
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.PERSONAL_NUMBER, PhoneNumberType.PAGER}


def _organisation_line(text: str, match: ContactMatch) -> bool:
    """A phone number that is an organisation's public helpline (see the module's docstring)."""
    if match.kind != "phone":
        return False
    number = phonenumbers.parse(next(key for key in match.keys if key.startswith("tel:")).removeprefix("tel:"))
    if phonenumbers.number_type(number) in _MOBILE_TYPES or (
        _DRAMA.fullmatch(_e164(number)) and number.national_number // 10**9 == 7
    ):
        return False  # a mobile is a person's
    sentence = next(
        (m[0] for m in _SENTENCE.finditer(text) if m.start() <= match.start and match.end <= m.end() and m[0]), ""
    )
    if not _HELPLINE_WORDS.search(sentence):
        return False
    from simplemma import is_known

    from social.posts.checks.name_lists import name_lists

    first_names = name_lists().first
    words = [m for m in _CAPITALISED.finditer(sentence) if not _HELPLINE_WORDS.fullmatch(m[0])]
    if any(re.sub(r"['’]s?$", "", m[0]) in name_lists().home_first for m in words):
        return False  # a person's line: "ring Sharon's advice line"
    return any(
        m[0] not in first_names
        and (m.start() > len(sentence) - len(sentence.lstrip()) or not is_known(m[0].lower(), lang="en"))
        for m in words
    )


def contact_matches(text: str) -> list[ContactMatch]:
    """Every contact detail in `text` that is not one of FiG's own public contacts."""
    if not text or not text.strip():
        return []
    own_keys, own_links = _own_keys()
    return [m for m in _candidates(text) if not _is_own(m, own_keys, own_links)]


def contact_details(text: str) -> list[str]:
    """The contact details in `text` as written, once each, FiG's own left out."""
    return list(dict.fromkeys(m.text for m in contact_matches(text)))


def _digits(field: str):
    """The field with the usual separators taken out, in SQL that SQLite and PostgreSQL both run."""
    expression = F(field)
    for separator in (" ", "-", ".", "(", ")", "+", "/"):
        expression = Replace(expression, Value(separator), Value(""))
    return expression


def _same_inbox(field: str, email: str) -> Q:
    """The register's addresses that are `email` (already without a +tag), with or without a +tag of their own."""
    local, _, domain = email.rpartition("@")
    return Q(**{f"{field}__iexact": email}) | Q(
        **{f"{field}__istartswith": f"{local}+", f"{field}__iendswith": f"@{domain}"}
    )


def family_contact_keys(matches: list[ContactMatch]) -> set[str]:
    """The keys of `matches` that are a carer's phone number or email address in the consent register.
    One query whatever the size of the register (none when no phone or email was found): the register's
    phones are free text, so SQL narrows them by their last digits and phonenumbers compares E.164 forms."""
    from consents.models import Carer

    phones = {key.removeprefix("tel:") for m in matches for key in m.keys if key.startswith("tel:")}
    emails = {key.removeprefix("email:") for m in matches for key in m.keys if key.startswith("email:")}
    if not phones and not emails:
        return set()
    wanted = reduce(
        operator.or_,
        [Q(phone_digits__endswith=str(phonenumbers.parse(phone).national_number)) for phone in phones]
        + [_same_inbox("email", email) | _same_inbox("user__email", email) for email in emails],
    )
    found: set[str] = set()
    rows = (
        Carer.objects.annotate(phone_digits=_digits("phone"))
        .filter(wanted)
        .values_list("phone", "email", "user__email")
    )
    for phone, email, user_email in rows:
        found |= {_email_key(address) for address in (email, user_email) if address}
        if phone:
            with contextlib.suppress(phonenumbers.NumberParseException):
                found.add(f"tel:{_e164(phonenumbers.parse(phone, 'GB'))}")
    return found & {key for m in matches for key in m.keys}


def _family_why(match: ContactMatch, family: set[str]) -> str:
    if any(key.startswith("tel:") for key in match.keys & family):
        return f"‘{match.text}’ is the phone number of a family FiG works with"
    return f"‘{match.text}’ is the email address of a family FiG works with"


def contact_findings(text: str) -> list[Finding]:
    """The contact check: a finding that cannot be dismissed for a family's contact details, and one that can
    for any others. At most one query (family_contact_keys)."""
    matches = contact_matches(text)
    if not matches:
        return []
    family = family_contact_keys(matches)
    theirs = [m for m in matches if m.keys & family]
    others = [m for m in matches if not m.keys & family and not _organisation_line(text, m)]
    findings = []
    if theirs:
        findings.append(
            Finding(
                "contact",
                "A family’s contact details",
                "; ".join(_family_why(m, family) for m in theirs)
                + ". A family’s contact details must never be shared, so this cannot be dismissed.",
                tuple(dict.fromkeys(m.text for m in theirs)),
                dismissible=False,
            )
        )
    if others:
        findings.append(
            Finding(
                "contact",
                CHECK_TITLES["contact"],
                "; ".join(dict.fromkeys(m.why for m in others))
                + ". Phone numbers, email addresses, addresses, postcodes and personal profiles could make a "
                "child or family contactable.",
                tuple(dict.fromkeys(m.text for m in others)),
            )
        )
    return findings

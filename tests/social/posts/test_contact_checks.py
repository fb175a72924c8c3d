"""The contact check on a post: phone numbers through phonenumbers (Google's libphonenumber), UK postcodes,
street addresses, email addresses, handles and profile links. FiG's own public contacts are allowed; a
carer's phone number or email address from the consent register cannot be dismissed; anything else can,
with a written reason. The register is read in one query whatever its size."""

from __future__ import annotations

import pytest

from social.posts import services as posts
from social.posts.checks import check_text, contact_details, uk_phone_numbers
from social.posts.checks.contact import contact_findings, contact_matches
from social.posts.services import CHECKLIST, PostError
from tests import factories
from tests.consents import factories as cf


def _found(text: str) -> list[str]:
    return [m.text for m in contact_matches(text)]


# Phone numbers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("call 0113 496 0000", "0113 496 0000"),
        ("Call 0113 496 0000 to book", "0113 496 0000"),
        ("ring (0113) 496 0999 today", "(0113) 496 0999"),
        ("0113.496.0000", "0113.496.0000"),
        ("020 7946 0123", "020 7946 0123"),
        ("020-7946-0123", "020-7946-0123"),
        ("+44 (0)20 7946 0123", "+44 (0)20 7946 0123"),
        ("text 07700 900123", "07700 900123"),
        ("07700900123.", "07700900123"),
        ("07700.900.123", "07700.900.123"),
        ("07700-900-123", "07700-900-123"),
        ("+44 7700 900123", "+44 7700 900123"),
        ("+447700900123", "+447700900123"),
        ("0044 7700 900 123", "0044 7700 900 123"),
        ("+44 (0) 7700 900123", "+44 (0) 7700 900123"),
        ("(01632) 960001", "(01632) 960001"),
        ("Freephone 0808 157 0123", "0808 157 0123"),
    ],
)
def test_it_finds_uk_phone_numbers_in_any_usual_form(text, number):
    assert uk_phone_numbers(text) == [number]
    assert number in text  # what the draft page highlights is a part of the text


@pytest.mark.parametrize(
    "text",
    [
        "Friday 3 June 2026 at 10:30",
        "10:30-12:00",
        "between 10.30 and 12.00",
        "£2.50 a ticket",
        "We raised £1,200",
        "In 2024 we helped 1200 families",
        "Year 2025-2026",
        "Maisie from Year 3",
        "in room 101",
        "Open 9-5, 7 days",
        "Charity no. 1234567",
        "Registered charity 01234 567890",
        "Booking ref: 01134960000",
        "ref 12345678901",
        "call 1234 567 8901",
        "03/06/2026 to 05/06/2026",
        "3.6.2026",
        "sort code 20-00-00 account 12345678",
        "07700 9001",  # too short for a mobile
        "0 1 2 3",
    ],
)
def test_it_does_not_take_dates_times_prices_or_references_for_phone_numbers(text):
    assert uk_phone_numbers(text) == [], text
    assert contact_details(text) == [], text


def test_ofcom_drama_numbers_count_but_other_numbers_libphonenumber_rejects_do_not():
    # 07700 900xxx and 01632 960xxx are "not valid" to libphonenumber, yet they are the UK's example numbers.
    assert uk_phone_numbers("07700 900999 or 01632 960123") == ["07700 900999", "01632 960123"]
    assert uk_phone_numbers("01632 860123 or 06700 900123 or 01999 123456") == []


def test_a_phone_number_outside_the_uk_is_contact_details_but_not_a_uk_number():
    assert uk_phone_numbers("+1 415 555 0100") == []
    [match] = contact_matches("Call +1 415 555 0100")
    assert match.text == "+1 415 555 0100"
    assert "outside the UK (United States)" in match.why


def test_each_number_says_what_it_is():
    whys = [m.why for m in contact_matches("Text 07700 900123, call 0113 496 0000 or 0800 123 4567")]
    assert whys == [
        "‘07700 900123’ is a UK mobile number",
        "‘0113 496 0000’ is a UK landline number",
        "‘0800 123 4567’ is a UK freephone number",
    ]


# Postcodes, addresses, emails, handles and links -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "why"),
    [
        ("we met at SW1A 1AA", "SW1A 1AA", "is a UK postcode"),
        ("Leeds LS11 5AB", "LS11 5AB", "is a UK postcode"),
        ("postcode m1 1ae", "m1 1ae", "is a UK postcode"),
        ("postcode ls115ab", "ls115ab", "is a UK postcode"),
        ("she lives at 12 Acacia Avenue", "12 Acacia Avenue", "is a street address"),
        ("at 12a Acacia avenue", "12a Acacia avenue", "is a street address"),
        ("Flat 3, 14 Park Road", "Flat 3, 14 Park Road", "is a street address"),
        ("4 Mill Lane, Leeds", "4 Mill Lane", "is a street address"),
        ("the Fletchers, who live on Cross Flatts Grove", "Cross Flatts Grove", "is the street where someone lives"),
        ("write to jo.bloggs@example.org.", "jo.bloggs@example.org", "is an email address"),
        ("follow @jobloggs.", "@jobloggs", "is a social media handle"),
        ("see facebook.com/jo.bloggs", "facebook.com/jo.bloggs", "is a link to a profile on Facebook"),
        ("https://www.instagram.com/someone_123/", "https://www.instagram.com/someone_123", "on Instagram"),
        ("x.com/jo_b", "x.com/jo_b", "on X (Twitter)"),
        ("twitter.com/jo_b", "twitter.com/jo_b", "on X (Twitter)"),
        ("tiktok.com/@jo.b", "tiktok.com/@jo.b", "on TikTok"),
        ("linkedin.com/in/jo-bloggs", "linkedin.com/in/jo-bloggs", "on LinkedIn"),
        ("threads.net/@jo.b", "threads.net/@jo.b", "on Threads"),
        ("snapchat.com/add/jo.b", "snapchat.com/add/jo.b", "on Snapchat"),
        ("youtube.com/@JoVlogs", "youtube.com/@JoVlogs", "on YouTube"),
        ("message me on wa.me/447700900123", "wa.me/447700900123", "is a WhatsApp link to a phone number"),
    ],
)
def test_it_finds_contact_details_and_says_what_each_is(text, expected, why):
    [match] = contact_matches(text)
    assert match.text == expected and expected in text
    assert match.why.startswith(f"‘{expected}’ ") and why in match.why


@pytest.mark.parametrize(
    "text",
    [
        "A lovely day at the park",
        "The group meets in the church hall on Park Road",  # an address needs a house number
        "Park Road",
        "our new family room on Temple Street",
        "12 families came",
        "We raised £1,200 for 3 Oak Street families",
        "Top 10 Summer Park Days",
        "Week 2 Roundhay Park buggy walk",
        "Chloe (Year 6, Park View Academy)",
        "AB1 2CD is not a real postcode",  # C is never in the second half of a postcode
        "LS11 is our area",  # a district alone is not an address
        "see you b4 2pm",
        "email us at the centre",
        "meet @ 10am",
        "meet us @10am",
        "visit box.com/files",
        "facebook.com/",
    ],
)
def test_it_leaves_ordinary_text_alone(text):
    assert contact_details(text) == [], text


def test_a_handle_is_not_the_end_of_an_email_address_nor_is_a_link_counted_twice():
    assert _found("jo@example.org and instagram.com/@jo_b") == ["jo@example.org", "instagram.com/@jo_b"]


# FiG's own public contacts --------------------------------------------------------------------------------


@pytest.fixture
def figs_own(settings):
    settings.FIG_PUBLIC_CONTACTS = [
        "Hello@FiG.org.uk",
        "0113 496 0500",
        "@FiGCharity",
        "https://www.facebook.com/FiGLeeds",
        "1 Temple Street, Leeds LS11 5AB",
    ]


def test_figs_own_public_contacts_are_allowed_in_any_form(figs_own):
    text = (
        "Email hello@fig.org.uk or call +44 (0)113 496 0500 / 0113-496-0500, follow @figcharity and "
        "instagram.com/FiGCharity, see facebook.com/figleeds/posts/1 and m.facebook.com/FiGLeeds. "
        "We are at 1 Temple Street, ls11 5ab."
    )
    assert contact_details(text) == []


def test_a_contact_like_figs_own_is_still_found(figs_own):
    text = "Email hello@fig.org.uk.evil.com, call 0113 496 0501, see facebook.com/FiGLeedsFake and @FiGCharity2"
    assert _found(text) == ["hello@fig.org.uk.evil.com", "0113 496 0501", "facebook.com/FiGLeedsFake", "@FiGCharity2"]


# A family's contact details cannot be dismissed ------------------------------------------------------------


@pytest.fixture
def carer(db):
    _, _, [carer] = cf.family_with_child()
    carer.phone, carer.email = "07700 900 456", "Sam.Parent@Example.org"
    carer.save()
    return carer


@pytest.mark.django_db
@pytest.mark.parametrize("written", ["+44 7700 900456", "07700900456", "0044 (0)7700-900-456"])
def test_a_carers_phone_number_in_another_form_cannot_be_dismissed(carer, written):
    [finding] = contact_findings(f"Any questions, ring {written} tonight")
    assert finding.check == "contact" and not finding.dismissible
    assert finding.matches == (written,)
    assert f"‘{written}’ is the phone number of a family FiG works with" in finding.explanation


@pytest.mark.django_db
def test_a_carers_email_address_in_any_case_cannot_be_dismissed(carer):
    [finding] = contact_findings("Contact sam.parent@example.ORG for lifts")
    assert not finding.dismissible and finding.matches == ("sam.parent@example.ORG",)
    assert "is the email address of a family FiG works with" in finding.explanation


@pytest.mark.django_db
def test_a_carers_signed_in_email_address_counts_too(carer):
    carer.user = factories.parent_user(email="Sam.Home@example.net")
    carer.save()
    [finding] = contact_findings("Write to sam.home@example.net")
    assert not finding.dismissible


@pytest.mark.django_db
def test_a_strangers_contact_details_stay_dismissible_beside_a_familys(carer):
    findings = contact_findings("Ring 07700 900456 or 07700 900789, or email someone@example.org")
    assert [(f.dismissible, f.matches) for f in findings] == [
        (False, ("07700 900456",)),
        (True, ("07700 900789", "someone@example.org")),
    ]
    assert "‘07700 900789’ is a UK mobile number; ‘someone@example.org’ is an email address." in findings[1].explanation


@pytest.mark.django_db
def test_a_number_sharing_a_carers_last_digits_is_not_theirs(carer):
    # The register is narrowed by the last digits in SQL, then compared by E.164 form: +1 207 946 0000 ends
    # in the same ten digits as 020 7946 0000 but is another number.
    carer.phone = "+1 (207) 946-0000"
    carer.save()
    [finding] = contact_findings("Call 020 7946 0000")
    assert finding.dismissible


@pytest.mark.django_db
def test_the_register_is_read_in_one_query_however_many_carers_and_details(carer, django_assert_num_queries):
    for n in range(30):
        cf.CarerFactory(phone=f"07700 900{n:03d}")
    text = "Ring 07700 900001, 07700 900002, +44 7700 900456 or 0113 496 0000; email a@example.org or b@example.org"
    with django_assert_num_queries(1):  # the carers whose phone or email might match
        findings = contact_findings(text)
    assert [f.dismissible for f in findings] == [False, True]
    assert findings[0].matches == ("07700 900001", "07700 900002", "+44 7700 900456")
    with django_assert_num_queries(0):  # no phone number or email address: the register is not read
        contact_findings("Come to 12 Acacia Avenue, LS11 5AB, or follow @jo_b")


@pytest.mark.django_db
def test_check_text_carries_both_contact_findings(carer):
    findings = [f for f in check_text("Ring 07700 900456 or 07700 900789") if f.check == "contact"]
    assert [f.dismissible for f in findings] == [False, True]


@pytest.fixture
def author(db):
    return factories.staff_user("staff", email="author@example.org")


@pytest.fixture
def admin(db):
    return factories.staff_user("social_admin", email="admin@example.org")


def _draft(author, text: str):
    return posts.post_save_draft(author=author, text=text, channels=["facebook"], scheduled_for=None, photos=[])


@pytest.mark.django_db
def test_a_carers_phone_number_stops_a_post_being_submitted(carer, author):
    post = _draft(author, "Lifts: ring +44 7700 900456")
    with pytest.raises(PostError, match="phone number of a family FiG works with"):
        posts.post_submit(post=post, by=author)
    post.refresh_from_db()
    assert post.status == post.Status.DRAFT


@pytest.mark.django_db
def test_a_carers_phone_number_blocks_approval_whatever_the_reason_given(carer, author, admin):
    post = _draft(author, "Lifts: ring +44 7700 900111")
    posts.post_submit(post=post, by=author)  # a stranger's number then, a reason could dismiss it
    carer.phone = "07700900111"  # the number is in the register by the time it is reviewed
    carer.save()
    with pytest.raises(PostError, match="cannot be dismissed"):
        posts.post_approve(post=post, by=admin, checklist=dict.fromkeys(CHECKLIST, True), dismissals={"contact": "ok"})
    post.refresh_from_db()
    assert post.status == post.Status.SUBMITTED


# Hidden contact details (audit gap D) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number", "e164"),
    [
        ("text 077OO 9OO123 tonight", "077OO 9OO123", "+447700900123"),
        ("ring O77OO 9OO 123", "O77OO 9OO 123", "+447700900123"),
        ("ring o7911 123 456", "o7911 123 456", "+447911123456"),
        ("call 0113 496 OOOO", "0113 496 OOOO", "+441134960000"),
        ("+44 77OO 9OO123", "+44 77OO 9OO123", "+447700900123"),
        ("0 7 7 O O 9 O O 1 2 3", "0 7 7 O O 9 O O 1 2 3", "+447700900123"),
        # A space, dot or dash between every digit.
        ("call 0 7 7 0 0 9 0 0 1 2 3 now", "0 7 7 0 0 9 0 0 1 2 3", "+447700900123"),
        ("0.7.7.0.0.9.0.0.1.2.3", "0.7.7.0.0.9.0.0.1.2.3", "+447700900123"),
        ("ring 0 7 9 1 1 1 2 3 4 5 6", "0 7 9 1 1 1 2 3 4 5 6", "+447911123456"),
        ("0-1-1-3-4-9-6-0-0-0-0", "0-1-1-3-4-9-6-0-0-0-0", "+441134960000"),
        ("0. 7. 9. 1. 1. 1. 2. 3. 4. 5. 6", "0. 7. 9. 1. 1. 1. 2. 3. 4. 5. 6", "+447911123456"),
    ],
)
def test_it_finds_a_phone_number_written_with_o_for_zero_or_spaced_out(text, number, e164):
    [match] = contact_matches(text)
    assert (match.text, match.kind, match.keys) == (number, "phone", frozenset({f"tel:{e164}"}))
    assert number in text  # what the draft page highlights is a part of the text
    assert uk_phone_numbers(text) == [number]


def test_a_number_with_o_for_zero_says_what_it_stands_for():
    [match] = contact_matches("text 077OO 9OO123")
    assert match.why == "‘077OO 9OO123’ is a UK mobile number, written with the letter O for 0 (07700 900123)"


@pytest.mark.parametrize(
    "text",
    [
        "Ooo what a day! Oo la la.",
        "We arrived at 9.30 o clock",
        "Scores: 0 o 0 at half time",
        "It's 5 o'clock somewhere",
        "Oooo 2024 was our best year",
        "Registered charity O1234 567890",  # a reference, with or without letters
        "see us at leeds.gov.uk",  # "at" as a word, before a web address
        "lunch @ 12.30",
        "Meet @ St.James",
        "Look at this dot com",
        "Email us. Look at this dot com",  # the cue is in another sentence
        "We had a party at the office. Great fun",
    ],
)
def test_hidden_contact_details_leave_ordinary_text_alone(text):
    assert contact_details(text) == [], text


@pytest.mark.parametrize(
    ("text", "written", "address"),
    [
        ("Email jo.hughes at example dot org for lifts", "jo.hughes at example dot org", "jo.hughes@example.org"),
        ("Write to jo.hughes @ example.org.", "jo.hughes @ example.org", "jo.hughes@example.org"),
        ("jo.hughes(at)example.org", "jo.hughes(at)example.org", "jo.hughes@example.org"),
        ("jo [at] example [dot] co [dot] uk.", "jo [at] example [dot] co [dot] uk", "jo@example.co.uk"),
        ("Jo.Hughes AT Example DOT org", "Jo.Hughes AT Example DOT org", "jo.hughes@example.org"),
        ("email jo at example dot org", "jo at example dot org", "jo@example.org"),
        ("jo.hughes @example.org", "jo.hughes @example.org", "jo.hughes@example.org"),  # not a handle
    ],
)
@pytest.mark.django_db
def test_it_finds_an_email_address_written_out_as_a_dismissible_finding(text, written, address):
    [match] = contact_matches(text)
    assert (match.text, match.kind, match.keys) == (written, "email", frozenset({f"email:{address}"}))
    assert written in text
    assert match.why == f"‘{written}’ is an email address written out ({address})"
    [finding] = contact_findings(text)
    assert finding.dismissible and finding.matches == (written,)


@pytest.fixture
def jo(db):
    _, _, [jo] = cf.family_with_child()
    jo.phone, jo.email = "07700 900 456", "jo.hughes@example.org"
    jo.save()
    return jo


@pytest.mark.django_db
@pytest.mark.parametrize(
    "written",
    [
        "jo.hughes+fig@example.org",
        "Jo.Hughes+FiG@Example.ORG",
        "jo.hughes at example dot org",
        "jo.hughes @ example.org",
        "jo.hughes(at)example.org",
        "jo.hughes+fig(at)example.org",
        "077OO 9OO456",
        "0 7 7 0 0 9 0 0 4 5 6",
        "0.7.7.0.0.9.0.0.4.5.6",
    ],
)
def test_a_carers_contact_details_tagged_written_out_or_spaced_cannot_be_dismissed(jo, written):
    [finding] = contact_findings(f"For lifts: {written} tonight")
    assert not finding.dismissible and finding.matches == (written,)
    assert "of a family FiG works with" in finding.explanation


@pytest.mark.django_db
def test_a_carers_own_tagged_address_matches_the_plain_one_in_a_post(jo):
    jo.email = "Jo.Hughes+FiG@example.org"
    jo.save()
    jo.user = factories.parent_user(email="sam.home+lists@example.net")
    jo.save()
    for text in ("Email jo.hughes@example.org", "Email jo.hughes+other@example.org", "Email sam.home@example.net"):
        [finding] = contact_findings(text)
        assert not finding.dismissible, text


@pytest.mark.django_db
def test_an_address_like_a_carers_on_another_domain_or_name_stays_dismissible(jo):
    findings = contact_findings("Email jo.hughes+fig@example.net, jo.hughesy+fig@example.org or jo@example.org")
    assert [(f.dismissible, f.matches) for f in findings] == [
        (True, ("jo.hughes+fig@example.net", "jo.hughesy+fig@example.org", "jo@example.org"))
    ]


# Other organisations' helplines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Parentline North is there for parents 24/7 on 020 7946 0321. You don't have to cope alone.",
        "Call the Leeds Domestic Violence Service helpline free on 0113 496 0555",
        "Struggling? Talk to Samaritans, free to call on 116 123",
    ],
)
@pytest.mark.django_db
def test_an_organisations_public_helpline_is_not_flagged(text):
    assert contact_findings(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Sharon runs a 24/7 advice line from home on 0113 496 0742",  # a person's line
        "Parentline North is there 24/7 on 07700 900462",  # a mobile is a person's
        "Ashfield Tenants Group is on 020 7946 0321",  # no helpline words
    ],
)
@pytest.mark.django_db
def test_a_number_that_may_be_a_persons_is_still_flagged(text):
    [finding] = contact_findings(text)
    assert finding.dismissible


@pytest.mark.django_db
def test_a_carers_number_called_a_helpline_still_cannot_be_dismissed(carer):
    carer.phone = "0113 496 0742"
    carer.save()
    [finding] = contact_findings("Parentline North is there for parents 24/7 on 0113 496 0742")
    assert not finding.dismissible

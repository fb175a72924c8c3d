"""The signed links emailed to carers: the signing link (answer one request) and the review link (see
and withdraw one child's consent). Made here; read back by `consents.selectors`."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import salted_hmac

from consents.models import Carer, Child, ConsentRequest

LINK_SALT = "consents.request-link"
REVIEW_SALT = "consents.review-link"


def address_tag(email: str) -> str:
    """Binds a link to the address it was sent to without putting the address in the URL: once a
    coordinator corrects a carer's email, links sent to the old one stop working."""
    return salted_hmac(REVIEW_SALT, email.strip().lower()).hexdigest()[:16]


def request_link_token(consent_request: ConsentRequest) -> str:
    return signing.dumps(
        {"r": consent_request.pk, "n": consent_request.nonce, "e": address_tag(consent_request.carer.email)},
        salt=LINK_SALT,
        compress=True,
    )


def request_link(consent_request: ConsentRequest) -> str:
    return settings.FIG_SITE_URL + reverse("consents:sign", args=[request_link_token(consent_request)])


# --- the review link: see and withdraw one child's consent, straight from the confirmation email -----


def review_link_token(*, carer: Carer, child: Child) -> str:
    return signing.dumps({"c": carer.pk, "k": child.pk, "e": address_tag(carer.email)}, salt=REVIEW_SALT, compress=True)


def review_link(*, carer: Carer, child: Child) -> str:
    return settings.FIG_SITE_URL + reverse("consents:review", args=[review_link_token(carer=carer, child=child)])

"""A security key in software, for tests that add a key or sign in with one without a browser.

SoftSecurityKey answers the options a page hands the browser (the JSON in its `js_data` script) with
what a browser and a real key would send back: a P-256 credential, "none" attestation, and
signatures that allauth and fido2 verify exactly as they would a real key's.
"""

from __future__ import annotations

import json
import os
import re
from hashlib import sha256

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import websafe_decode
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticationExtensionsClientOutputs,
    AuthenticationResponse,
    AuthenticatorAssertionResponse,
    AuthenticatorAttestationResponse,
    AuthenticatorData,
    CollectedClientData,
    RegistrationResponse,
)

_JS_DATA = re.compile(r'<script id="js_data" type="application/json">(.*?)</script>', re.DOTALL)


def page_options(html: str) -> dict:
    """The WebAuthn options a page hands its script, as the browser reads them."""
    match = _JS_DATA.search(html)
    assert match, "the page has no js_data script"
    return json.loads(match.group(1))


class SoftSecurityKey:
    def __init__(self, origin: str = "http://localhost") -> None:
        self.origin = origin
        self.credential_id = os.urandom(32)
        self._private_key = ec.generate_private_key(ec.SECP256R1())
        self._counter = 0

    def register(self, creation_options: dict) -> str:
        """The credential a browser posts after "Add a security key", as the form's JSON."""
        options = creation_options["publicKey"]
        client_data = CollectedClientData.create("webauthn.create", options["challenge"], self.origin)
        credential = AttestedCredentialData.create(
            b"\0" * 16, self.credential_id, ES256.from_cryptography_key(self._private_key.public_key())
        )
        flags = AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.AT
        auth_data = AuthenticatorData.create(self._rp_id_hash(options["rp"]["id"]), flags, 0, credential)
        response = RegistrationResponse(
            raw_id=self.credential_id,
            response=AuthenticatorAttestationResponse(
                client_data=client_data, attestation_object=AttestationObject.create("none", auth_data, {})
            ),
            client_extension_results=AuthenticationExtensionsClientOutputs({"credProps": {"rk": False}}),
        )
        return json.dumps(dict(response))

    def sign_in(self, request_options: dict) -> str:
        """The assertion a browser posts after "Use my security key", as the form's JSON."""
        options = request_options["publicKey"]
        allowed = [websafe_decode(item["id"]) for item in options.get("allowCredentials", [])]
        assert self.credential_id in allowed, "the server did not ask for this key"
        self._counter += 1
        client_data = CollectedClientData.create("webauthn.get", options["challenge"], self.origin)
        auth_data = AuthenticatorData.create(
            self._rp_id_hash(options["rpId"]), AuthenticatorData.FLAG.UP, self._counter
        )
        signature = self._private_key.sign(bytes(auth_data) + client_data.hash, ec.ECDSA(hashes.SHA256()))
        response = AuthenticationResponse(
            raw_id=self.credential_id,
            response=AuthenticatorAssertionResponse(
                client_data=client_data, authenticator_data=auth_data, signature=signature
            ),
        )
        return json.dumps(dict(response))

    @staticmethod
    def _rp_id_hash(rp_id: str) -> bytes:
        return sha256(rp_id.encode()).digest()


def give_key(user, key: SoftSecurityKey | None = None, name: str = "Blue USB key") -> SoftSecurityKey:
    """Register `key` (a new one unless given) for `user` directly, as if they had added it on localhost."""
    from allauth.mfa.webauthn.internal.auth import WebAuthn

    key = key or SoftSecurityKey()
    options = {"publicKey": {"challenge": "c2V0LXVwLWluLWEtdGVzdA", "rp": {"id": "localhost"}}}
    WebAuthn.add(user, name, json.loads(key.register(options)))
    return key

"""The seal on consent certificate PDFs: a document signature (pyHanko) made with FiG's own key, and the
check that a PDF carries it and has not changed since.

The key and its self-signed certificate are PEM files named by FIG_CERTIFICATE_SIGNING_KEY and
FIG_CERTIFICATE_SIGNING_CERT. With FIG_CERTIFICATE_SIGNING_GENERATE (on in debug and in the tests) and
neither set, a pair is made once under FIG_VAR_DIR and kept. A PDF is checked against FiG's own
certificate, not a chain of trust: only FiG ever seals one, and a PDF sealed with any other key is not
FiG's, whoever certified that key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

SEAL_FIELD = "FiGSeal"
COMMON_NAME = "FiG Safety consent certificates"
KEY_FILE = "key.pem"
CERT_FILE = "cert.pem"
# The certificate is only ever compared with itself (no chain, no revocation), so its dates matter little;
# long enough that a generated one outlives every certificate it seals.
CERT_YEARS = 50


@dataclass(frozen=True)
class SealPaths:
    key: Path
    cert: Path


def seal_paths() -> SealPaths:
    """Where FiG's key and certificate are: as configured, or (where allowed) made once under FIG_VAR_DIR."""
    key, cert = settings.FIG_CERTIFICATE_SIGNING_KEY, settings.FIG_CERTIFICATE_SIGNING_CERT
    if key and cert:
        return SealPaths(Path(key), Path(cert))
    if not settings.FIG_CERTIFICATE_SIGNING_GENERATE:
        raise ImproperlyConfigured(
            "FIG_CERTIFICATE_SIGNING_KEY and FIG_CERTIFICATE_SIGNING_CERT must be set to seal consent certificates"
            " (make a pair with `python manage.py certificate_key FOLDER`)."
        )
    folder = Path(settings.VAR_DIR) / "certificate-signing"
    if not (folder / CERT_FILE).exists():
        _generate_once(folder)
    return SealPaths(folder / KEY_FILE, folder / CERT_FILE)


def write_key_pair(folder: Path) -> SealPaths:
    """A new EC P-256 key and a self-signed certificate for it, written to `folder` (made, private)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "FiG"),
            x509.NameAttribute(NameOID.COMMON_NAME, COMMON_NAME),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    usage = dict.fromkeys(
        ["key_encipherment", "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign"], False
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365 * CERT_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                encipher_only=False,
                decipher_only=False,
                **usage,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = SealPaths(folder / KEY_FILE, folder / CERT_FILE)
    descriptor = os.open(paths.key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    with paths.cert.open("xb") as out:
        out.write(certificate.public_bytes(serialization.Encoding.PEM))
    return paths


def _generate_once(folder: Path) -> None:
    """Make the pair in a folder of its own and rename it into place: the web process and the worker may
    both get here first, and exactly one pair must win (a PDF sealed with the loser's would not verify)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".certificate-signing-", dir=folder.parent))
    write_key_pair(scratch)
    try:
        scratch.rename(folder)
    except OSError:  # another process's pair is in place: use it
        for child in scratch.iterdir():
            child.unlink()
        scratch.rmdir()


@lru_cache(maxsize=4)
def _signer(key: Path, cert: Path, changed: tuple[float, float]) -> signers.SimpleSigner:
    # `changed` (the files' modification times) is part of the cache key, so a replaced key is read again.
    signer = signers.SimpleSigner.load(str(key), str(cert))
    if signer is None:
        raise ImproperlyConfigured(f"The certificate signing key {key} or certificate {cert} could not be read.")
    return signer


def _load_signer(paths: SealPaths) -> signers.SimpleSigner:
    try:
        changed = (paths.key.stat().st_mtime, paths.cert.stat().st_mtime)
    except OSError as exc:
        raise ImproperlyConfigured(f"The certificate signing key or certificate is missing: {exc}") from exc
    return _signer(paths.key, paths.cert, changed)


def seal_pdf(
    pdf: bytes,
    *,
    paths: SealPaths | None = None,
    files: list[Callable[[IncrementalPdfFileWriter], None]] | None = None,
) -> bytes:
    """`pdf` sealed with FiG's key: a certification signature that allows no change afterwards.

    `files` are callables given the writer before signing (to embed attachments), so they are sealed too.
    """
    signer = _load_signer(paths or seal_paths())
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    for add in files or []:
        add(writer)
    out = _outside_event_loop(
        signers.sign_pdf,
        writer,
        signers.PdfSignatureMetadata(
            field_name=SEAL_FIELD,
            reason="Sealed by FiG Safety: any change after this breaks the seal",
            location="FiG Safety",
            certify=True,
            docmdp_permissions=MDPPerm.NO_CHANGES,
        ),
        signer=signer,
    )
    return out.getvalue()


def _outside_event_loop(function, *args, **kwargs):
    """pyHanko's plain functions call asyncio.run(), which cannot start inside a running event loop (an
    ASGI server's, or Playwright's in the browser tests): there, they run in a thread of their own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args, **kwargs)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args, **kwargs).result()


def load_certificate(path: Path) -> asn1_x509.Certificate:
    """A PEM or DER certificate file, as pyHanko reads it."""
    data = path.read_bytes()
    if pem.detect(data):
        _, _, data = pem.unarmor(data)
    return asn1_x509.Certificate.load(data)


class Verdict:
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    NOT_OURS = "not_ours"


@dataclass(frozen=True)
class Verification:
    verdict: str
    sealed_at: dt.datetime | None = None
    why: str = ""  # what was found, for the command's --verbose and for logs

    @property
    def ok(self) -> bool:
        return self.verdict == Verdict.UNCHANGED


def verify_pdf(data: bytes, *, certificates: list[asn1_x509.Certificate] | None = None) -> Verification:
    """Whether `data` is a PDF sealed with FiG's key (or one of `certificates`) and unchanged since.

    Unchanged means the seal's digest matches, its signature verifies with FiG's certificate, and it
    covers the whole file: anything appended later (an incremental update that adds a page, say) is a
    change, even where PDF readers would call it allowed.
    """
    ours = certificates or [load_certificate(seal_paths().cert)]
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        seals = reader.embedded_signatures
    except Exception as exc:  # noqa: BLE001 - pyHanko raises many kinds on a file that is not a readable PDF
        return Verification(Verdict.NOT_OURS, why=f"not a readable PDF ({exc.__class__.__name__})")
    seal = next((s for s in seals if s.field_name == SEAL_FIELD), None)
    if seal is None:
        return Verification(Verdict.NOT_OURS, why="no FiG seal")
    try:
        signer_cert = seal.signer_cert
    except Exception as exc:  # noqa: BLE001
        return Verification(Verdict.NOT_OURS, why=f"the seal names no certificate ({exc.__class__.__name__})")
    if not any(signer_cert.dump() == cert.dump() for cert in ours):
        who = f"{signer_cert.subject.human_friendly}, SHA-256 fingerprint {signer_cert.sha256_fingerprint}"
        return Verification(Verdict.NOT_OURS, why=f"sealed by another key ({who})")
    # No fetching: the only certificate that counts is FiG's own, compared above.
    context = ValidationContext(trust_roots=ours, allow_fetching=False, revocation_mode="soft-fail")
    try:
        status = _outside_event_loop(validate_pdf_signature, seal, context)
    except Exception as exc:  # noqa: BLE001 - a damaged signature structure is a change
        return Verification(Verdict.CHANGED, why=f"the seal could not be checked ({exc.__class__.__name__})")
    sealed_at = status.signer_reported_dt
    if not (status.intact and status.valid):
        return Verification(Verdict.CHANGED, sealed_at, why="the content no longer matches the seal")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE or len(seals) != 1:
        return Verification(Verdict.CHANGED, sealed_at, why="something was added after the seal")
    return Verification(Verdict.UNCHANGED, sealed_at)

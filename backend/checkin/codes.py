"""Check-in codes (SPEC §5): short-lived, Ed25519-signed, opaque, small enough for a QR.

A code is ``L1`` + base32(payload ‖ signature), upper case without padding, so that the QR
uses alphanumeric mode (about 120 characters → a version-5 symbol at level M). The payload
is 9 bytes: kind (1 = a resident's personal code, 2 = an activity's poster code), subject
id (user or activity, uint32) and the 30-second time step it was issued in. No name, phone
or room is in it. Signing uses the server's private key; a leader's phone can verify codes
offline with the public key from the scanner kit. The server itself checks a code by signing
its payload again (see ``_genuine``).

Validity: issued in step ``s``, a code is good through step ``s + 1`` (30–60 s), plus one
step of clock skew either side — judged at the time of the scan, not of the upload.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hmac
import io
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

import qrcode
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import current_app

PREFIX = "L1"
STEP_S = 30
VALID_STEPS = 2  # the step it was issued in and the next one: at most 60 s
SKEW_STEPS = 1
# Signatures are domain-separated so that no other signed blob can pass as a code.
CONTEXT = b"linli-checkin-v1:"
_PAYLOAD = struct.Struct(">BII")
_SIGNATURE_LEN = 64
FORMAT_DESCRIPTION = (
    "'L1' + base32 (RFC 4648, no padding) of payload || signature; payload = kind (u8: 1 "
    "personal, 2 poster), subject id (u32 BE), time step (u32 BE, unix time // 30); "
    "signature = Ed25519 over b'linli-checkin-v1:' + payload; valid while the scan's step "
    "is within [step - 1, step + 2]")


class CodeKind(enum.IntEnum):
    PERSONAL = 1
    POSTER = 2


class InvalidCode(Exception):
    """Garbled, truncated, forged, of the wrong kind, or not yet valid."""


class ExpiredCode(Exception):
    def __init__(self, code: CheckinCode) -> None:
        super().__init__("expired")
        self.code = code


@dataclass(frozen=True)
class CheckinCode:
    text: str
    kind: CodeKind
    subject_id: int
    step: int

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.step * STEP_S, UTC)

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp((self.step + VALID_STEPS) * STEP_S, UTC)

    def refresh_in_s(self, at: datetime) -> int:
        """Seconds until the app should fetch the next code (the start of the next step)."""
        return max(1, (self.step + 1) * STEP_S - int(at.timestamp()))


def private_key() -> Ed25519PrivateKey:
    return _keys()[0]


def public_key() -> Ed25519PublicKey:
    return _keys()[1]


def _keys() -> tuple[Ed25519PrivateKey, Ed25519PublicKey]:
    # Loaded once per seed: deriving the public key is a curve multiplication, which every
    # scan would otherwise pay for.
    cache = current_app.extensions.setdefault("linli_checkin_key", {})
    seed = current_app.config["CHECKIN_SIGNING_KEY"]
    if seed not in cache:
        raw = base64.urlsafe_b64decode(seed + "=" * (-len(seed) % 4))
        key = Ed25519PrivateKey.from_private_bytes(raw)
        cache[seed] = (key, key.public_key())
    return cache[seed]


def public_key_b64() -> str:
    raw = public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def issue(kind: CodeKind, subject_id: int, at: datetime) -> CheckinCode:
    step = int(at.timestamp()) // STEP_S
    payload = _PAYLOAD.pack(kind, subject_id, step)
    signature = private_key().sign(CONTEXT + payload)
    body = base64.b32encode(payload + signature).decode().rstrip("=")
    return CheckinCode(PREFIX + body, kind, subject_id, step)


def verify(text: str, kind: CodeKind, at: datetime) -> CheckinCode:
    """The code if its signature holds and it is valid at ``at``; raises otherwise."""
    code = _decode(text, kind)
    judged_step = int(at.timestamp()) // STEP_S
    if judged_step < code.step - SKEW_STEPS:
        raise InvalidCode("issued after the scan")
    if judged_step >= code.step + VALID_STEPS + SKEW_STEPS:
        raise ExpiredCode(code)
    return code


def poster_activity_id(text: str) -> int | None:
    """The activity a poster code claims to be for (unverified: only to route the scan)."""
    try:
        payload, _ = _split(text)
    except InvalidCode:
        return None
    kind, subject_id, _ = _PAYLOAD.unpack(payload)
    return subject_id if kind == CodeKind.POSTER else None


def _split(text: str) -> tuple[bytes, bytes]:
    text = text.strip()
    if not text.startswith(PREFIX):
        raise InvalidCode("unknown format")
    body = text[len(PREFIX):]
    try:
        blob = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError) as error:
        raise InvalidCode("not base32") from error
    if len(blob) != _PAYLOAD.size + _SIGNATURE_LEN:
        raise InvalidCode("wrong length")
    # base32 ignores the last character's spare bit: accept only the one canonical spelling,
    # so that any change to the text is a different (and invalid) code.
    if base64.b32encode(blob).decode().rstrip("=") != body:
        raise InvalidCode("not canonical")
    return blob[:_PAYLOAD.size], blob[_PAYLOAD.size:]


def _decode(text: str, kind: CodeKind) -> CheckinCode:
    payload, signature = _split(text)
    if not _genuine(payload, signature):
        raise InvalidCode("bad signature")
    code_kind, subject_id, step = _PAYLOAD.unpack(payload)
    if code_kind != kind:
        raise InvalidCode("wrong kind of code")
    return CheckinCode(text.strip(), CodeKind(code_kind), subject_id, step)


def _genuine(payload: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is this server's signature of ``payload``.

    Ed25519 signing is deterministic (RFC 8032 §5.1.6: the nonce is a hash of the key and
    the message), so the one signature the server ever makes for a payload is the one it
    makes again now; anything else is not ours, which is what public-key verification
    accepts from us too. Holding the private key, signing again is the cheaper check: about
    a third of a verification here, which was a quarter of a scan's instructions
    (``scripts/bench/scans.py``). Phones, which have only the public key, verify.
    """
    return hmac.compare_digest(private_key().sign(CONTEXT + payload), signature)


def qr_png(text: str) -> bytes:
    """A PNG QR image of ``text`` (level M: survives a scuffed phone screen)."""
    image = qrcode.make(text, error_correction=qrcode.constants.ERROR_CORRECT_M,
                        box_size=8, border=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()

"""Check-in codes (SPEC §5): signed, opaque, short-lived, and real QR images."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import time_machine
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from backend.checkin import codes
from backend.common.clock import now
from tests.checkin_support import scan


def decode_png(png: bytes) -> str:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1, "exactly one QR code in the image"
    return results[0].text


def test_checkin_code_answers_code_expiry_and_refresh(make, world):
    answer = make.call("GET", "/api/v1/me/checkin-code", world.resident_a)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["code"].startswith("L1")
    assert 1 <= body["refresh_in_s"] <= codes.STEP_S
    assert body["expires_at"].endswith("+08:00")


def test_code_carries_no_personal_data_in_clear(make, world):
    text = make.call("GET", "/api/v1/me/checkin-code", world.resident_a).get_json()["code"]
    assert "张" not in text and "501" not in text and str(world.resident_a.id) not in text[:4]
    assert set(text[2:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")  # QR alphanumeric mode
    assert len(text) <= 130


def test_png_decodes_with_a_real_qr_reader_and_scans_ok(app, make, world):
    activity = make.activity(world.team_a, starts_at=now() + timedelta(minutes=10))
    make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_a)
    response = make.call("GET", "/api/v1/me/checkin-code.png", world.resident_a)
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == "no-store"
    text = decode_png(response.data)
    answer = scan(make, world.leader_a, activity, text).get_json()
    assert answer["result"] == "ok"
    assert answer["resident"] == {"id": world.resident_a.id, "display_name": "张*明"}


def test_code_rotates_every_step(make, world):
    with time_machine.travel(now(), tick=False) as traveller:
        first = make.call("GET", "/api/v1/me/checkin-code", world.resident_a).get_json()
        traveller.shift(codes.STEP_S)
        second = make.call("GET", "/api/v1/me/checkin-code", world.resident_a).get_json()
    assert first["code"] != second["code"]


def test_code_validity_is_sixty_seconds_plus_one_step_of_skew(app):
    with app.app_context():
        issued_at = now().replace(microsecond=0)
        code = codes.issue(codes.CodeKind.PERSONAL, 7, issued_at)
        step_start = code.issued_at
        codes.verify(code.text, codes.CodeKind.PERSONAL, step_start - timedelta(seconds=1))
        last_valid = step_start + timedelta(seconds=3 * codes.STEP_S - 1)
        assert codes.verify(code.text, codes.CodeKind.PERSONAL, last_valid).subject_id == 7
        try:
            codes.verify(code.text, codes.CodeKind.PERSONAL, last_valid + timedelta(seconds=1))
        except codes.ExpiredCode:
            pass
        else:
            raise AssertionError("a code is dead 90 s after its step began")
        assert code.expires_at - step_start == timedelta(seconds=60)


def test_scanner_kit_public_key_verifies_codes_offline(app, make, world):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    activity = make.activity(world.team_a)
    make.call("POST", f"/api/v1/activities/{activity}/signups", world.resident_a)
    kit = make.call("GET", f"/api/v1/activities/{activity}/scanner-kit", world.leader_a)
    assert kit.status_code == 200
    body = kit.get_json()
    assert body["residents"] == [{"id": world.resident_a.id, "display_name": "张*明"}]
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(body["public_key"]))
    text = make.call("GET", "/api/v1/me/checkin-code", world.resident_a).get_json()["code"]
    blob = base64.b32decode(text[2:] + "=" * (-len(text[2:]) % 8))
    key.verify(blob[9:], b"linli-checkin-v1:" + blob[:9])  # raises if it does not verify
    assert int.from_bytes(blob[1:5], "big") == world.resident_a.id


def test_scanner_kit_is_for_the_team_leader_and_staff_only(make, world):
    activity = make.activity(world.team_a)
    assert make.call("GET", f"/api/v1/activities/{activity}/scanner-kit",
                     world.leader_a2).status_code == 403
    assert make.call("GET", f"/api/v1/activities/{activity}/scanner-kit",
                     world.leader_b).status_code == 404
    assert make.call("GET", f"/api/v1/activities/{activity}/scanner-kit",
                     world.staff_a).status_code == 200


@settings(max_examples=60, deadline=None)
@given(subject_id=st.integers(1, 2**32 - 1), step=st.integers(0, 2**32 - 1),
       kind=st.sampled_from(codes.CodeKind), flip=st.integers(0, 73 * 8 - 1))
def test_the_servers_check_agrees_with_public_key_verification(app, subject_id, step, kind,
                                                              flip):
    """The server checks a code by signing its payload again; a phone verifies it with the
    public key. Both accept every genuine code and refuse it with any one bit changed."""
    from cryptography.exceptions import InvalidSignature

    def public_key_accepts(blob: bytes) -> bool:
        try:
            codes.public_key().verify(blob[9:], codes.CONTEXT + blob[:9])
        except InvalidSignature:
            return False
        return True

    with app.app_context():
        payload = codes._PAYLOAD.pack(kind, subject_id, step)
        genuine = payload + codes.private_key().sign(codes.CONTEXT + payload)
        altered = bytearray(genuine)
        altered[flip // 8] ^= 1 << flip % 8
        for blob, accepted in ((genuine, True), (bytes(altered), False)):
            assert codes._genuine(blob[:9], blob[9:]) is accepted
            assert public_key_accepts(blob) is accepted

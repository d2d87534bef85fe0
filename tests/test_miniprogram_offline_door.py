"""The leader's door without network (issue 20): the phone verifies check-in codes with the
scanner kit's public key exactly as the server does (WebCrypto's Ed25519, or the vendored
@noble/ed25519), answers from its own state, queues the scans, and uploads them when the
network is back; the attendances come out as those of the same scans made online."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from backend.checkin import codes
from backend.checkin.models import Attendance, Scan
from backend.common.clock import now
from backend.extensions import db
from tests.browser import phone, seat

VERIFY = """async ([text, key, at]) => {
  const m = await import("/mp/checkin_verify.js");
  const verify = await m.makeVerifier(key);
  const read = await m.readCode(text, verify, at);
  return { verifier: m.verifierName(), result: read.result, userId: read.userId ?? null };
}"""

# A browser whose WebCrypto has no Ed25519 (older Chromium, some WebViews).
NO_WEBCRYPTO_ED25519 = """(() => {
  const importKey = crypto.subtle.importKey.bind(crypto.subtle);
  crypto.subtle.importKey = (format, key, algorithm, ...rest) =>
    (algorithm?.name ?? algorithm) === "Ed25519"
      ? Promise.reject(new DOMException("Ed25519 unsupported", "NotSupportedError"))
      : importKey(format, key, algorithm, ...rest);
})();"""


def server_reading(app, text: str, at: datetime) -> str | None:
    with app.app_context():
        try:
            codes.verify(text, codes.CodeKind.PERSONAL, at)
        except codes.ExpiredCode:
            return "expired_code"
        except codes.InvalidCode:
            return "invalid_code"
    return None


def spellings(app, user_id: int) -> dict[str, str]:
    """A real code, and what a forger or a smudged screen makes of it."""
    with app.app_context():
        real = codes.issue(codes.CodeKind.PERSONAL, user_id, now()).text
        poster = codes.issue(codes.CodeKind.POSTER, user_id, now()).text
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    middle = len(real) // 2
    altered = real[:middle] + ("A" if real[middle] != "A" else "B") + real[middle + 1:]
    # The last character carries one spare bit: flipping it decodes to the same bytes.
    spare = alphabet[alphabet.index(real[-1]) ^ 1]
    return {"real": real, "altered": altered, "non_canonical": real[:-1] + spare,
            "truncated": real[:-4], "lower_case": real.lower(), "poster": poster,
            "garbled": "LQ1.forged.code", "padded": f"  {real}\n"}


@pytest.mark.parametrize("webcrypto", [True, False], ids=["webcrypto", "vendored-noble"])
def test_the_phone_verifies_codes_exactly_as_the_server(app, browser, site, make, world,
                                                        webcrypto):
    with app.app_context():
        key = codes.public_key_b64()
    cases = spellings(app, world.resident_a.id)
    issued = now()
    times = {"now": issued, "in a minute": issued + timedelta(seconds=60),
             "three minutes on": issued + timedelta(minutes=3),
             "a minute before": issued - timedelta(seconds=61)}
    with phone(browser, site) as leader:
        if not webcrypto:
            leader.page.add_init_script(NO_WEBCRYPTO_ED25519)
        leader.open("/login")
        for name, text in cases.items():
            for when, at in times.items():
                phone_says = leader.page.evaluate(VERIFY, [text, key, at.timestamp() * 1000])
                assert phone_says["verifier"] == ("webcrypto" if webcrypto else "noble")
                assert phone_says["result"] == server_reading(app, text, at), (name, when)
                if phone_says["result"] != "invalid_code":
                    assert phone_says["userId"] == world.resident_a.id


def typed(leader, text: str) -> None:
    leader.by("scan-button").click()
    scanner = leader.by("scanner")
    scanner.locator("[data-role=manual]").fill(text)
    scanner.get_by_text("确定").click()


def code_of(make, person) -> str:
    return make.call("GET", "/api/v1/me/checkin-code", person).json["code"]


def attendances(app, activity_id: int) -> list[tuple]:
    with app.app_context():
        rows = db.session.query(Attendance).filter_by(activity_id=activity_id).all()
        return sorted((a.user_id, a.checked_in_at is not None, a.checked_out_at is not None,
                       a.status.value) for a in rows)


def results(app, activity_id: int) -> list[str]:
    with app.app_context():
        rows = db.session.query(Scan).filter_by(activity_id=activity_id).order_by(
            Scan.scanned_at, Scan.id).all()
        return [row.result.value for row in rows]


def test_the_door_keeps_scanning_offline_and_uploads_when_the_network_is_back(
        app, browser, site, make, world):
    door = make.activity(world.team_a, title="楼道义务清扫", walk_ins_allowed=True,
                         starts_at=now() - timedelta(minutes=10))
    # The same scans made online, for comparison: an activity of the same team that does
    # not overlap this one (it ended an hour ago; its scan window is still open).
    reference = make.activity(world.team_a, title="对照", walk_ins_allowed=True,
                              starts_at=now() - timedelta(hours=3),
                              ends_at=now() - timedelta(hours=1))
    first, second = world.resident_a, make.resident(world.a, "李秀英")
    for activity in (door, reference):
        seat(app, activity, first)
        seat(app, activity, second)
    scans = [  # (who, direction, what the door says offline, what the server says)
        (first, "in", "ok", "ok"),
        (second, "in", "ok", "ok"),
        (first, "in", "already_in", "already_in"),
        ("forged", "in", "invalid_code", "invalid_code"),
        # A walk-in from another community: the phone cannot tell, the upload can.
        (world.resident_b, "in", "ok", "not_signed_up"),
        (second, "out", "ok", "ok"),
    ]

    def code(who):
        if who == "forged":
            real = code_of(make, first)
            return real[:40] + ("A" if real[40] != "A" else "B") + real[41:]
        return code_of(make, who)

    with phone(browser, site) as leader:
        leader.login(world.leader_a.openid).open(f"/leader/scan/{door}")
        expect(leader.by("door-ready")).to_contain_text("已备好离线名单（2 人）")
        leader.page.context.set_offline(True)  # the community hall's signal drops
        result = leader.by("scan-result")
        for index, (who, direction, offline, _) in enumerate(scans):
            leader.by(f"direction-{direction}").click()
            typed(leader, code(who))
            expect(result).to_have_attribute("data-result", offline)
            expect(result).to_have_attribute("data-offline", "true")
            if index == 0:
                expect(leader.by("door-offline")).to_contain_text("网络已断开，正在离线扫码")
            expect(leader.by("door-queue")).to_have_text(f"待上传 {index + 1} 条")
        expect(result).to_contain_text("签退成功")
        leader.shot("leader-scan-offline")
        assert attendances(app, door) == []  # nothing reached the server yet

        leader.page.context.set_offline(False)  # the door goes back online by itself
        expect(leader.by("door-ready")).to_be_visible(timeout=20_000)
        expect(leader.by("door-offline")).to_have_count(0)
        expect(leader.by("door-queue")).to_have_text("")
        differences = leader.by("door-difference")
        expect(differences).to_have_count(1)
        expect(differences).to_contain_text("陈*")
        expect(differences).to_contain_text("离线：签到成功 → 实际：未报名本活动")
        leader.shot("leader-scan-uploaded")

        typed(leader, code_of(make, first))  # online again: straight to the server
        expect(result).to_have_attribute("data-offline", "false")
        expect(result).to_contain_text("签退成功")
    for index, (who, direction, _, _) in enumerate(scans + [(first, "out", None, None)]):
        body = {"code": code(who), "direction": direction, "scan_id": f"reference-{index}"}
        assert make.call("POST", f"/api/v1/activities/{reference}/scans", world.leader_a,
                         json=body).status_code == 200
    assert results(app, door) == results(app, reference) == [
        server for _, _, _, server in scans] + ["ok"]
    assert attendances(app, door) == attendances(app, reference) == sorted([
        (first.id, True, True, "open"), (second.id, True, True, "open")])

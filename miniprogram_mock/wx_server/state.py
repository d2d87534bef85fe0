"""In-memory state of the mock WeChat platform. One lock guards everything: the
server is threaded and tests hit it from many threads at once."""

from __future__ import annotations

import base64
import itertools
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from miniprogram_mock.wx_server.errors import WxFault

CODE_TTL_S = 300  # wx.login codes and phone codes live five minutes
TOKEN_TTL_S = 7200
# The platform hands out the next stable token in the last five minutes of the old one,
# and a re-fetched classic token leaves the previous one working for five more minutes.
RENEW_WINDOW_S = 300
# stable_token force_refresh: "每天限用20次且需间隔30秒" — a force_refresh within 30 s of
# the last one that refreshed does not refresh (the current token comes back), and the
# 21st force_refresh call of a (Beijing) day answers 45009.
FORCE_REFRESH_INTERVAL_S = 30
FORCE_REFRESH_PER_DAY = 20
BEIJING_OFFSET_S = 8 * 3600
FIRST_MSGID = 2_000_000_000
MSGID_FORMATS = ("int", "string", "missing")


@dataclass
class OneTimeCode:
    openid: str
    issued_at: float
    used: bool = False
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """What the next ``remaining`` calls to one path answer instead of the real thing."""

    errcode: int | None = None
    errmsg: str | None = None
    remaining: int = 1
    delay_s: float = 0.0
    status: int = 200


class MockState:
    def __init__(
        self, appid: str, secret: str, templates: Iterable[str] = (), pages: Iterable[str] = ()
    ) -> None:
        self.appid = appid
        self.secret = secret
        # What the mini-program's account holds on the platform: the subscribe-message
        # templates it picked (公众平台 → 订阅消息) and the pages of its released version.
        self._seed_templates = frozenset(templates)
        self._seed_pages = frozenset(pages)
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._offset_s = 0.0
            self._login_codes: dict[str, OneTimeCode] = {}
            self._phone_codes: dict[str, OneTimeCode] = {}
            self._users: dict[str, dict[str, str]] = {}
            self._tokens: dict[str, float] = {}  # token -> expires_at (mock clock)
            # token -> when it stops working because a newer one replaced it (40001 then)
            self._superseded: dict[str, float] = {}
            self._stable_token: str | None = None
            self._classic_token: str | None = None
            self._last_forced_at: float | None = None
            self._forced_per_day: Counter[int] = Counter()
            self._templates = set(self._seed_templates)
            self._released_pages = set(self._seed_pages)
            self._codes: list[dict[str, Any]] = []
            self._msgid_format = "int"
            self._credits: Counter[tuple[str, str]] = Counter()
            self._messages: list[dict[str, Any]] = []
            self._faults: dict[str, deque[Fault]] = {}
            self._calls: Counter[str] = Counter()
            self._msgids = itertools.count(FIRST_MSGID)

    # -- clock -------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self._offset_s

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset_s += seconds
            return self.now()

    # -- login and phone codes -------------------------------------------------------

    def issue_login_code(self, openid: str, unionid: str | None = None) -> str:
        code = secrets.token_hex(16)
        with self._lock:
            user = self._users.setdefault(openid, {})
            if unionid:
                user["unionid"] = unionid
            self._login_codes[code] = OneTimeCode(openid, self.now())
        return code

    def redeem_login_code(self, code: str) -> dict[str, str]:
        with self._lock:
            entry = self._redeem(self._login_codes, code)
            user = self._users.setdefault(entry.openid, {})
            # Every wx.login may rotate the session key; the old one stops being valid.
            user["session_key"] = base64.b64encode(secrets.token_bytes(16)).decode()
            session = {"openid": entry.openid, "session_key": user["session_key"]}
            if "unionid" in user:
                session["unionid"] = user["unionid"]
            return session

    def issue_phone_code(self, openid: str, phone: str, country_code: str = "86") -> str:
        code = secrets.token_hex(16)
        with self._lock:
            self._users.setdefault(openid, {})
            extra = {"phone": phone, "country_code": country_code}
            self._phone_codes[code] = OneTimeCode(openid, self.now(), extra=extra)
        return code

    def redeem_phone_code(self, code: str, openid: str | None = None) -> dict[str, Any]:
        with self._lock:
            entry = self._phone_codes.get(code)
            if entry is not None and openid and entry.openid != openid:
                raise WxFault(40029)  # the code is bound to another user
            entry = self._redeem(self._phone_codes, code, used_errcode=40029)
            pure, country = entry.extra["phone"], entry.extra["country_code"]
            return {
                "phoneNumber": pure if country == "86" else f"+{country}{pure}",
                "purePhoneNumber": pure,
                "countryCode": country,
                "watermark": {"timestamp": int(self.now()), "appid": self.appid},
            }

    def _redeem(
        self, codes: dict[str, OneTimeCode], code: str, used_errcode: int = 40163
    ) -> OneTimeCode:
        entry = codes.get(code)
        if entry is None or self.now() - entry.issued_at > CODE_TTL_S:
            raise WxFault(40029)
        if entry.used:
            raise WxFault(used_errcode)
        entry.used = True
        return entry

    # -- access tokens ----------------------------------------------------------------

    def issue_classic_token(self) -> tuple[str, int]:
        with self._lock:
            previous = self._classic_token
            if previous in self._tokens:
                # The old token keeps working for five minutes, then is "not latest".
                self._supersede(previous, self.now() + RENEW_WINDOW_S)
            self._classic_token = self._new_token()
            return self._classic_token, TOKEN_TTL_S

    def issue_stable_token(self, force_refresh: bool) -> tuple[str, int]:
        with self._lock:
            now = self.now()
            current = self._stable_token
            remaining = self._tokens.get(current, 0.0) - now if current else 0.0
            usable = current is not None and remaining > 0 and current not in self._superseded
            if force_refresh:
                self._count_force_refresh(now)
                recent = self._last_forced_at is not None and \
                    now - self._last_forced_at < FORCE_REFRESH_INTERVAL_S
                if usable and recent:
                    return current, int(remaining)  # too soon: WeChat does not refresh
                self._last_forced_at = now
                if current:
                    self._supersede(current, now)  # force_refresh kills the old token at once
            elif usable and remaining > RENEW_WINDOW_S:
                return current, int(remaining)
            self._stable_token = self._new_token()
            return self._stable_token, TOKEN_TTL_S

    def _count_force_refresh(self, now: float) -> None:
        day = int((now + BEIJING_OFFSET_S) // 86400)  # quotas reset at midnight, Beijing
        if self._forced_per_day[day] >= FORCE_REFRESH_PER_DAY:
            raise WxFault(45009)
        self._forced_per_day[day] += 1

    def _supersede(self, token: str, at: float) -> None:
        self._superseded[token] = min(at, self._superseded.get(token, at))

    def _new_token(self) -> str:
        token = secrets.token_urlsafe(96)
        self._tokens[token] = self.now() + TOKEN_TTL_S
        return token

    def check_token(self, token: str | None) -> None:
        """41001 missing; 40001 unknown or replaced by a newer token; 42001 expired."""
        if not token:
            raise WxFault(41001)
        with self._lock:
            now = self.now()
            expires_at = self._tokens.get(token)
            if expires_at is None or self._superseded.get(token, float("inf")) <= now:
                raise WxFault(40001)
            if expires_at <= now:
                raise WxFault(42001)

    # -- the account: templates, released pages ---------------------------------------

    def add_template(self, template_id: str) -> None:
        with self._lock:
            self._templates.add(template_id)

    def remove_template(self, template_id: str) -> bool:
        with self._lock:
            found = template_id in self._templates
            self._templates.discard(template_id)
            return found

    def templates(self) -> list[str]:
        with self._lock:
            return sorted(self._templates)

    def has_template(self, template_id: str) -> bool:
        with self._lock:
            return template_id in self._templates

    def release_pages(self, pages: Iterable[str], replace: bool = False) -> list[str]:
        """Pages of the released version; ``replace`` plays a new release."""
        with self._lock:
            if replace:
                self._released_pages.clear()
            self._released_pages.update(pages)
            return sorted(self._released_pages)

    def released_pages(self) -> list[str]:
        with self._lock:
            return sorted(self._released_pages)

    def is_released(self, page: str | None) -> bool:
        """Is ``page`` (None: the home page) in the released version?"""
        with self._lock:
            return bool(self._released_pages) and (page is None or page in self._released_pages)

    def record_code(self, code: dict[str, Any]) -> None:
        with self._lock:
            self._codes.append({**code, "issued_at": int(self.now())})

    def codes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(code) for code in self._codes]

    # -- subscribe messages -----------------------------------------------------------

    def grant(self, openid: str, template_id: str) -> int:
        with self._lock:
            self._users.setdefault(openid, {})
            self._credits[(openid, template_id)] += 1
            return self._credits[(openid, template_id)]

    def credits(self, openid: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"template_id": template_id, "credits": count}
                for (who, template_id), count in sorted(self._credits.items())
                if who == openid and count > 0
            ]

    def require_openid(self, openid: str | None) -> None:
        with self._lock:
            if not openid or openid not in self._users:
                raise WxFault(40003)

    def deliver(self, message: dict[str, Any]) -> int:
        """Spend one subscription credit and record the message: 40037 for a template the
        mini-program does not hold, 43101 when the user has no credit for it."""
        key = (message["touser"], message["template_id"])
        with self._lock:
            if message["template_id"] not in self._templates:
                raise WxFault(40037)  # removed from the account since it was looked up
            if self._credits[key] <= 0:
                raise WxFault(43101)
            self._credits[key] -= 1
            msgid = next(self._msgids)
            self._messages.append({**message, "msgid": msgid, "sent_at": int(self.now())})
            return msgid

    def set_msgid_format(self, fmt: str) -> None:
        with self._lock:
            self._msgid_format = fmt

    def msgid_field(self, msgid: int) -> dict[str, Any]:
        """``msgid`` as the send answer carries it (a number, its text, or absent)."""
        with self._lock:
            fmt = self._msgid_format
        return {} if fmt == "missing" else {"msgid": str(msgid) if fmt == "string" else msgid}

    def messages(self, openid: str | None = None, template_id: str | None = None) -> list[dict]:
        with self._lock:
            return [
                dict(m)
                for m in self._messages
                if openid in (None, m["touser"]) and template_id in (None, m["template_id"])
            ]

    # -- faults and call counts -------------------------------------------------------

    def add_fault(self, path: str, fault: Fault) -> None:
        with self._lock:
            self._faults.setdefault(path, deque()).append(fault)

    def take_call(self, path: str) -> Fault | None:
        """Count one call to ``path``; return the fault it must answer with, if any."""
        with self._lock:
            self._calls[path] += 1
            queue = self._faults.get(path)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.popleft()
            return fault

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"calls": dict(self._calls), "messages_sent": len(self._messages)}


def current_state() -> MockState:
    return current_app.extensions["wx_mock"]

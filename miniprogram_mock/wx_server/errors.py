"""WeChat's error answers: HTTP 200 with ``{"errcode", "errmsg"}``, as the real platform sends."""

from __future__ import annotations

# errmsg texts as the platform words them (see shared/notes/wechat-rq-roster.md §1).
ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40029: "invalid code",
    40037: "invalid template_id",
    40097: "invalid args",
    40125: "invalid appsecret",
    40163: "code been used",
    40169: "invalid length for scene, or the data is not json string",
    40226: "code blocked",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41008: "missing code",
    41030: "invalid page",
    42001: "access_token expired",
    43001: "require GET method",
    43002: "require POST method",
    43101: "user refuse to accept the msg",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit mustslower retry next minute",
    47001: "data format error",
    47003: "argument invalid!",
}


class WxFault(Exception):
    """Raised anywhere in a handler; the app turns it into WeChat's error body."""

    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSG.get(errcode, "error")
        super().__init__(f"{self.errcode}: {self.errmsg}")

    def body(self) -> dict[str, int | str]:
        return {"errcode": self.errcode, "errmsg": self.errmsg}

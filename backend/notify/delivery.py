"""When a notice may go out, and what its WeChat template data looks like."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from backend.common.clock import LOCAL_TZ, to_utc
from backend.notify.models import Notification

# Residents need these at once; everything else waits for the morning in quiet hours.
URGENT_TEMPLATES = frozenset({"activity_cancelled", "activity_reminder", "shift_reminder"})


def parse_quiet_hours(setting: str) -> tuple[time, time]:
    start, end = (time.fromisoformat(part.strip()) for part in setting.split("-"))
    return start, end


def send_after(template_key: str, at: datetime, quiet_hours: str) -> datetime | None:
    """None to send now, or the end of the quiet hours that ``at`` falls into."""
    if template_key in URGENT_TEMPLATES or quiet_hours in ("", "off"):
        return None
    start, end = parse_quiet_hours(quiet_hours)
    local = at.astimezone(LOCAL_TZ)
    now_t = local.timetz().replace(tzinfo=None)
    crosses_midnight = start > end
    in_quiet = (now_t >= start or now_t < end) if crosses_midnight else start <= now_t < end
    if not in_quiet:
        return None
    wake = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if wake <= local:
        wake += timedelta(days=1)
    return to_utc(wake)


def template_data(notification: Notification) -> dict[str, str]:
    """Data for the subscribe message, inside WeChat's value limits (thing ≤ 20 chars).

    Every Linli template shares one layout: what happened, when, and the notice title.
    """
    when = notification.data.get("at") or notification.created_at.isoformat()
    return {
        "thing1": _clip(notification.body, 20),
        "time2": datetime.fromisoformat(when).astimezone(LOCAL_TZ).strftime(
            "%Y年%m月%d日 %H:%M"),
        "thing3": _clip(notification.title, 20),
    }


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

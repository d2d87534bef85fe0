"""The client for the WeChat platform API (login, tokens, subscribe messages, codes)."""

from backend.wechat.client import (
    InvalidLoginCode,
    WeChatClient,
    WeChatError,
    WeChatUnavailable,
    client_from_config,
)

__all__ = [
    "InvalidLoginCode",
    "WeChatClient",
    "WeChatError",
    "WeChatUnavailable",
    "client_from_config",
]

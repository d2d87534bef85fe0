"""A stand-in for the WeChat platform API (SPEC §3): code2Session, access tokens,
subscribe messages, mini-program codes and phone numbers, with WeChat's shapes and
error codes, plus ``/_mock/*`` controls for tests."""

from miniprogram_mock.wx_server.app import create_app, start_in_thread

__all__ = ["create_app", "start_in_thread"]

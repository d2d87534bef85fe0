"""Notifications: one outbox row per notice, the in-app inbox, WeChat template keys."""

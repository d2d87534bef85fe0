"""Identity: WeChat login, tokens, the current user."""

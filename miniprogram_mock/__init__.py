"""Stand-ins for the WeChat platform and the mini-program, for development and tests."""

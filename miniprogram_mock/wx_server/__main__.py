"""``python -m miniprogram_mock.wx_server --host 127.0.0.1 --port 8001``."""

from __future__ import annotations

import argparse

from werkzeug.serving import run_simple

from miniprogram_mock.wx_server.app import (
    DEFAULT_APPID,
    DEFAULT_SECRET,
    DEFAULT_TEMPLATES,
    RELEASED_PAGES,
    create_app,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Mock WeChat platform API for Linli")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--appid", default=DEFAULT_APPID)
    parser.add_argument("--secret", default=DEFAULT_SECRET)
    parser.add_argument("--template", action="append", default=[], metavar="ID",
                        help="one more subscribe-message template the mini-program holds")
    parser.add_argument("--page", action="append", default=[], metavar="PATH",
                        help="one more page of the released version")
    args = parser.parse_args(argv)
    app = create_app(appid=args.appid, secret=args.secret,
                     templates=[*DEFAULT_TEMPLATES, *args.template],
                     pages=[*RELEASED_PAGES, *args.page])
    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()

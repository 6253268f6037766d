"""`kit app`: serve the karaoke maker (notebook 09) with Voila on this computer."""

from __future__ import annotations


def register(sub) -> None:
    from ..app_server import DEFAULT_PORT, IDLE_MINUTES, IDLE_MINUTES_ENV, WEBSOCKET_LIMIT_MB

    p = sub.add_parser(
        "app", help="start the karaoke maker in your browser (Voila) and print its URL",
        description="Serve notebooks/09_karaoke_maker.ipynb with Voila on 127.0.0.1 and print the URL. "
                    f"Uploads up to 100 MB work (websocket messages up to {WEBSOCKET_LIMIT_MB} MiB). "
                    "Each open page has its own session (kernel), which ends when the page closes. "
                    "Ctrl-C stops it.",
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on (default: %(default)s)")
    p.add_argument("--host", default="127.0.0.1", metavar="ADDRESS",
                   help="address to listen on (default: %(default)s, this computer only); 0.0.0.0 serves a "
                        "class on every network this computer is on, and links to private addresses are "
                        "then refused")
    browser = p.add_mutually_exclusive_group()
    browser.add_argument("--open", action="store_true", help="open the app in your web browser")
    browser.add_argument("--no-browser", action="store_true", help="do not open a browser (the default)")
    p.add_argument("--idle-minutes", default=None, metavar="MIN",
                   help="end a session whose page went away without closing (a crashed browser, a phone "
                        f"that lost the connection) after MIN idle minutes (env: {IDLE_MINUTES_ENV}; "
                        f"default: {IDLE_MINUTES:g}); an open page is never ended")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..app_server import parse_idle_minutes, serve

    minutes = parse_idle_minutes(args.idle_minutes) if args.idle_minutes is not None else None
    return serve(port=args.port, open_browser=bool(args.open), idle_minutes=minutes, host=args.host)

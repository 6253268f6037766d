"""`kit app`: serve the karaoke maker (notebook 09) with Voila on this computer."""

from __future__ import annotations


def register(sub) -> None:
    from ..app_server import DEFAULT_PORT, WEBSOCKET_LIMIT_MB

    p = sub.add_parser(
        "app", help="start the karaoke maker in your browser (Voila) and print its URL",
        description="Serve notebooks/09_karaoke_maker.ipynb with Voila on 127.0.0.1 and print the URL. "
                    f"Uploads up to 100 MB work (websocket messages up to {WEBSOCKET_LIMIT_MB} MiB). "
                    "Ctrl-C stops it.",
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on (default: %(default)s)")
    browser = p.add_mutually_exclusive_group()
    browser.add_argument("--open", action="store_true", help="open the app in your web browser")
    browser.add_argument("--no-browser", action="store_true", help="do not open a browser (the default)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..app_server import serve

    return serve(port=args.port, open_browser=bool(args.open))

"""`kit fetch URL`: download a song's audio (yt-dlp), ready for `kit backing`."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "fetch",
        help="download a song's audio from a web address (yt-dlp)",
        description="Download the audio of one song from an http(s) address (a video page yt-dlp knows, "
                    "or a direct link to an audio file) and print the file's path. Download only what "
                    "you have the right to.",
    )
    p.add_argument("url", metavar="URL", help="http:// or https:// address of one song")
    p.add_argument("--out", "-o", default=".", metavar="DIR", help="folder for the file (default: current folder)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="give up on a host silent this long, in seconds (default: %(default)s)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import OptionError
    from ..fetch import fetch_audio
    from ..progress import tqdm_progress

    if not args.timeout > 0:
        raise OptionError(f"--timeout {args.timeout} must be a positive number of seconds.")
    with tqdm_progress("Downloading") as progress:
        path = fetch_audio(args.url, out_dir=args.out, progress=progress, timeout_s=args.timeout)
    print(str(path))
    return 0

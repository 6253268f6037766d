"""`kit batch INPUT... --out DIR`: separate many songs, here or on a Ray cluster."""

from __future__ import annotations

from pathlib import Path

from ._common import add_model_options, model_options, say


def register(sub) -> None:
    p = sub.add_parser(
        "batch",
        help="separate many songs (files or folders), here or on a Ray cluster",
        description="Separate every song in INPUT (files, or folders searched for audio files) into "
                    "OUT/<song>/<stem>.<format>, as `kit separate` writes them. A song that fails does "
                    "not stop the others; OUT/batch_report.json lists every song. Running the same "
                    "command again skips the songs already done, so a stopped batch resumes. "
                    "Example: kit batch music/ --model unet --out stems/ --backing \"--drop vocals\"",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="song files or folders of songs")
    add_model_options(p)
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="folder for one sub-folder per song")
    p.add_argument("--format", "-f", default="wav", choices=("wav", "flac", "mp3"),
                   help="stem file format (default: %(default)s)")
    p.add_argument("--backing", default=None, metavar="OPTIONS",
                   help="also write a backing track per song, with `kit backing`'s options in one quoted "
                        "argument, e.g. --backing \"--drop vocals --semitones -1\"")
    p.add_argument("--ray", default=None, metavar="auto|ADDRESS",
                   help="run on a Ray cluster: 'auto' (the one this machine is in) or HEAD:6379. Needs "
                        "pip install 'kit[cluster]'. The songs and --out must be on a disk every node "
                        "sees at the same path. Default: this machine")
    p.add_argument("--retries", type=int, default=1, metavar="N",
                   help="tries more for a song whose failure may pass (out of memory, a worker killed; "
                        "default: %(default)s)")
    p.add_argument("--no-cache", action="store_true", help="do not read or store stems in the stem cache")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..batch import batch, find_songs, parse_backing_options
    from ..errors import OptionError
    from ..progress import tqdm_progress
    from ..separators.registry import best_available_model, normalize_model_name, stems_for

    if args.retries < 0:
        raise OptionError(f"--retries {args.retries} is negative; give 0 or more, e.g. --retries 1.")
    opts = model_options(args)
    device = opts.pop("device")
    # every cheap check before the first song: a typo must not cost a separation
    model = normalize_model_name(args.model, model_dir=opts.get("model_dir"))
    if model == "auto":
        model = best_available_model(device=device, **opts)
    backing = parse_backing_options(args.backing, available=stems_for(model, model_dir=opts.get("model_dir")),
                                    model=model)
    songs = find_songs(args.inputs)
    if args.ray is not None:  # joins the cluster now, so a wrong address costs nothing
        from ..batch_ray import connect

        connect(args.ray)
    say(f"{len(songs)} song{'s' if len(songs) != 1 else ''} to separate with {model}"
        + ("" if args.ray is None else f" on the Ray cluster ({args.ray})"))

    def on_song(kind, entry):
        if kind == "failed":
            say(f"failed: {entry['song']}: {entry['reason']}")

    try:
        with tqdm_progress(f"Batch ({len(songs)} songs)") as progress:
            result = batch(songs, model=model, out_dir=Path(args.out), fmt=args.format, backing=backing,
                           device=device, ray=args.ray, cache=not args.no_cache, retries=args.retries,
                           progress=progress, on_song=on_song, **opts)
    except KeyboardInterrupt:
        say(f"stopped; songs finished so far are kept (see {Path(args.out) / 'batch_report.json'}); "
            "run the same command again to go on.")
        return 130
    skipped = result["done"] - result["separated"]
    say(f"{result['done']} songs done, {result['failed']} failed"
        + (f" ({skipped} already done before)" if skipped else "") + f" (see {result['report']})")
    for entry in result["songs"]["done"]:
        print(entry["out"])
    return 1 if result["failed"] else 0

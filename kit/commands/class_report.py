"""`kit class report`: what a class did, from the class database (kit.classroom).

Per lesson, how many students reached each exercise and how many passed it;
the listening test of lesson 07 pooled over every student (mean rating and 95 %
interval per version, against its SDR). ``--json`` prints the same as JSON,
``--html FILE`` writes it as a page with the chart.
"""

from __future__ import annotations

import html
import json

from ._common import say, say_replaced


def register(sub) -> None:
    p = sub.add_parser("class", help="a class's results: exercises reached and passed, listening test pooled",
                       description="Read the class database (KIT_CLASS_DB, where the lessons' exercise checks and "
                                   "the listening test write). Example: kit class report --html report.html")
    csub = p.add_subparsers(dest="class_command", metavar="ACTION")
    csub.required = True
    rp = csub.add_parser("report", help="per lesson, students who reached and passed each exercise; listening "
                                        "test pooled")
    rp.add_argument("--db", default=None, metavar="FILE",
                    help="the class database (default: $KIT_CLASS_DB, else kit's data folder)")
    rp.add_argument("--json", action="store_true", help="print the report as JSON")
    rp.add_argument("--html", default=None, metavar="FILE", help="also write the report, with its chart, as HTML")
    rp.set_defaults(func=run_report)


def _format_interval(v: dict) -> str:
    return "n/a (one listener)" if v["low"] is None else f"[{v['low']:.0f}, {v['high']:.0f}]"


def _format_sdr(v: dict) -> str:
    return "infinite" if v["sdr_db"] is None or v["sdr_db"] >= 100 else f"{v['sdr_db']:.1f} dB"


def format_report(summary: dict, *, db) -> str:
    """The report as text lines."""
    lines = [f"class results in {db}: {len(summary['students'])} student(s)"]
    if summary["exercises"]:
        width = max(len(e["item"]) for e in summary["exercises"])
        lines.append(f"{'lesson':<7} {'exercise':<{width}}  reached  passed")
        for e in summary["exercises"]:
            lines.append(f"{e['lesson']:<7} {e['item']:<{width}}  {e['reached']:>7}  {e['passed']:>6}")
    else:
        lines.append("no exercise checked yet")
    listening = summary["listening"]
    if listening["listeners"]:
        lines.append(f"listening test, {listening['listeners']} listener(s): mean rating (0-100), 95% interval, SDR "
                     "(museval v4, against the reference)")
        width = max(len(v["version"]) for v in listening["versions"])
        for v in listening["versions"]:
            lines.append(f"  {v['version']:<{width}} {v['mean']:5.0f}  {_format_interval(v):<18} SDR {_format_sdr(v)}")
    else:
        lines.append("listening test: no ratings saved yet")
    return "\n".join(lines)


def _chart_png(summary: dict) -> bytes | None:
    import io

    from matplotlib.figure import Figure

    from ..plot import plot_ratings

    versions = summary["listening"]["versions"]
    if not versions:
        return None
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    plot_ratings({v["version"]: v["mean"] for v in versions}, {v["version"]: v["sdr_db"] for v in versions},
                 ax=fig.add_subplot(), intervals={v["version"]: (v["low"], v["high"]) for v in versions},
                 ylabel="class mean rating (0-100), 95% interval",
                 title=f"Listening test, {summary['listening']['listeners']} listener(s): ears against SDR")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def write_html(summary: dict, path, *, db) -> None:
    """The report as one HTML page, the chart inlined."""
    import base64

    from ..audio import atomic_output

    rows = "".join(f"<tr><td>{html.escape(e['lesson'])}</td><td>{html.escape(e['item'])}</td>"
                   f"<td align=right>{e['reached']}</td><td align=right>{e['passed']}</td></tr>"
                   for e in summary["exercises"])
    listening = "".join(f"<tr><td>{html.escape(v['version'])}</td><td align=right>{v['n']}</td>"
                        f"<td align=right>{v['mean']:.0f}</td><td>{html.escape(_format_interval(v))}</td>"
                        f"<td align=right>{html.escape(_format_sdr(v))}</td></tr>"
                        for v in summary["listening"]["versions"])
    png = _chart_png(summary)
    chart = ("" if png is None else
             f"<img alt='ratings against SDR' src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Class report</title></head><body>"
            f"<h1>Class report</h1><p>{html.escape(str(db))}: {len(summary['students'])} student(s)</p>"
            f"<h2>Exercises</h2><table border=1 cellpadding=4><tr><th>lesson</th><th>exercise</th>"
            f"<th>reached</th><th>passed</th></tr>{rows}</table>"
            f"<h2>Listening test (lesson 07)</h2><p>{summary['listening']['listeners']} listener(s); "
            f"each listener's last saved ratings.</p><table border=1 cellpadding=4><tr><th>version</th><th>listeners"
            f"</th><th>mean rating</th><th>95% interval</th><th>SDR</th></tr>{listening}</table>{chart}</body></html>")
    with atomic_output(path) as tmp:
        tmp.write_text(page, encoding="utf-8")


def run_report(args) -> int:
    from pathlib import Path

    from ..classroom import class_db_path, read_results, summarize_class
    from ..errors import OptionError

    db = class_db_path(args.db)
    if args.html:  # checked before reading anything
        out = Path(args.html)
        if out.suffix.lower() not in (".html", ".htm") or out.is_dir():
            raise OptionError(f"--html '{out}': give a file name ending in .html, e.g. --html report.html.")
        if not out.absolute().parent.is_dir():
            raise OptionError(f"Folder '{out.absolute().parent}' does not exist; create it or pick another --html.")
    if args.db is None and not db.is_file():  # nothing written yet is not a mistake; a named missing file is
        print(f"no class results in {db} yet: the lessons' exercise checks and the listening test write there "
              "(KIT_CLASS_DB points a whole class at one file)")
        return 0
    summary = summarize_class(read_results(db=db))
    if args.json:
        print(json.dumps({"db": str(db), **summary}, indent=2))
    else:
        print(format_report(summary, db=db))
    if args.html:
        replaced = Path(args.html).exists()
        write_html(summary, args.html, db=db)
        if replaced:
            say_replaced([args.html])
        say(f"wrote {args.html}")
    return 0

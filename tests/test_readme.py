"""The README stands on its own: its commands run as written, its links agree, nothing points outside.

``test_using_it_runs_as_written`` walks the README's "Using it" block line by
line, in order, in an empty folder, the way a newcomer would after installing:
offline, with no model folder and an empty stem cache. Lines marked
``# needs downloaded weights`` must stop with the one-line message that says how
to get the weights; the line marked ``# needs internet`` must fail in one line
and leave nothing behind (here no internet is assumed; with internet the address
in the README gives no audio, which fails the same way).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
NEEDS_WEIGHTS = "needs downloaded weights"
NEEDS_INTERNET = "needs internet"


def section(text: str, title: str) -> str:
    """The text under a ``## title`` heading, up to the next heading of any level."""
    start = text.index(f"\n## {title}\n")
    rest = text[start + len(title) + 5:]
    end = re.search(r"^#{2,3} ", rest, flags=re.MULTILINE)
    return rest[: end.start() if end else len(rest)]


def kit_lines(text: str) -> list[str]:
    """Every line of a ```bash block that starts with ``kit ``."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        lines += [ln.strip() for ln in block.splitlines() if ln.strip().startswith("kit ")]
    return lines


def kit_repo() -> str:
    found = re.findall(r'KIT_REPO = "([^"]+)"', README)
    assert len(found) == 1, "README.md must name its repository once, as KIT_REPO = \"OWNER/NAME\""
    return found[0]


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory):
    """What a fresh offline install sees: no model folder, empty caches, no network."""
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if k not in ("KIT_MODEL_DIR",)}
    env.update({"HOME": str(home), "KIT_CACHE_DIR": str(home / "stems"), "HF_HOME": str(home / "hf"),
                "TORCH_HOME": str(home / "torch"), "HF_HUB_OFFLINE": "1", "KIT_OFFLINE": "1"})
    return env


def test_using_it_has_the_lines_a_newcomer_needs():
    lines = kit_lines(section(README, "Using it"))
    assert lines and lines[0].startswith("kit doctor")
    copy = [i for i, ln in enumerate(lines) if ln.startswith("kit examples copy")]
    first_song = min(i for i, ln in enumerate(lines) if "song.mp3" in shlex.split(ln, comments=True))
    assert copy and copy[0] < first_song, "the bundled song must be copied before any line uses song.mp3"
    assert any(NEEDS_WEIGHTS in ln for ln in lines) and any(NEEDS_INTERNET in ln for ln in lines)
    for ln in lines:
        if "htdemucs" in ln:
            assert NEEDS_WEIGHTS in ln, f"Demucs needs downloaded weights; mark the README line: {ln}"


def test_using_it_runs_as_written(tmp_path, fresh_env):
    for line in kit_lines(section(README, "Using it")):
        argv = shlex.split(line, comments=True)
        proc = subprocess.run([sys.executable, "-m", "kit", *argv[1:]], cwd=tmp_path, env=fresh_env,
                              capture_output=True, text=True, timeout=600)
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("kit: error:")]
        assert "Traceback" not in proc.stderr, f"{line}\n{proc.stderr}"
        if NEEDS_WEIGHTS in line:
            assert proc.returncode != 0 and len(errors) == 1, f"{line}\n{proc.stderr}"
            assert "kit models download" in errors[0] and "--model unet" in errors[0], errors[0]
        elif NEEDS_INTERNET in line:
            assert proc.returncode != 0 and len(errors) == 1, f"{line}\n{proc.stderr}"
            assert "Could not download" in errors[0], errors[0]
            out = argv[argv.index("-o") + 1]
            assert not (tmp_path / out).exists(), f"a failed download left '{out}' behind"
        else:
            assert proc.returncode == 0 and not errors, f"{line}\n{proc.stderr}"
            if argv[1] in ("separate", "backing", "examples") and argv[2] != "song":
                written = proc.stdout.splitlines()
                assert written and all((tmp_path / p).is_file() for p in written), f"{line}\n{proc.stdout}"
            if argv[1] == "evaluate":
                scores = json.loads(proc.stdout)
                assert {s["stem"] for s in scores["stems"]} == {"vocals", "accompaniment"}
        if argv[1] in ("separate", "backing") and proc.returncode == 0:
            model = argv[argv.index("--model") + 1] if "--model" in argv else "unet"  # auto picks unet offline
            assert f"kit: separating with {model} on " in proc.stderr, f"{line}\n{proc.stderr}"
    leftovers = [p.name for p in tmp_path.rglob("*") if ".partial" in p.name or p.name.startswith(".kit-")]
    assert leftovers == []


def test_nothing_in_the_repository_points_outside_it():
    shared = ".." + "/shared"  # spelled in two pieces so that this file does not match itself
    work = "/" + "work/"
    pattern = re.compile(re.escape(shared) + "|" + r"(?<![\w.~-])" + re.escape(work))
    try:
        files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True,
                               timeout=60).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an sdist): every file
        files = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts]
    bad = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        bad += [f"{name}: {m.group(0)}" for m in pattern.finditer(text)]
    assert bad == [], "files refer to paths outside the repository: " + "; ".join(bad)


def test_every_link_and_notebook_names_the_same_repository():
    repo = kit_repo()
    linked = re.findall(r"(?:github\.com|mybinder\.org/v2/gh|colab\.research\.google\.com/github)/([\w.-]+/[\w.-]+)",
                        README)
    assert linked and set(linked) == {repo}, f"README links name {set(linked)}, KIT_REPO is {repo}"
    assert (f"https://mybinder.org/v2/gh/{repo}/HEAD?urlpath=voila/render/notebooks/09_karaoke_maker.ipynb"
            in README), "the Binder link to the Voila app is missing"
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        named = [re.findall(r'^KIT_REPO = "([^"]+)"', src, flags=re.MULTILINE) for src in code[:1]]
        assert named and named[0] == [repo], f"{nb.name}: its first code cell must set KIT_REPO = \"{repo}\""


def test_the_lessons_list_matches_the_notebooks_folder():
    repo = kit_repo()
    lessons = section(README, "Lessons")
    lessons = lessons[lessons.index("<!-- lessons: start -->"):lessons.index("<!-- lessons: end -->")]
    listed = re.findall(r"notebooks/(\d\d_\w+)\.ipynb", lessons)
    assert listed, "README lists no lessons"
    present = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    missing = present - set(listed)
    assert not missing, f"add these notebooks to the README's lessons list: {sorted(missing)}"
    for line in lessons.splitlines():
        m = re.search(r"notebooks/(\d\d_\w+)\.ipynb", line)
        if not m:
            continue
        name = m.group(1)
        if name in present:
            colab = f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{name}.ipynb"
            assert "(coming)" not in line and colab in line, f"{name} exists: link it (Colab: {colab})"
        else:
            assert "(coming)" in line, f"{name} is listed but not in notebooks/: mark it (coming)"

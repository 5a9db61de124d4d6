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

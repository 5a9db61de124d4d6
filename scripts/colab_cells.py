"""Put an "Open in Colab" badge and the Colab set-up cell at the top of every notebook (idempotent).

    python scripts/colab_cells.py [--check]

Both come from igan_lite/notebook/colab.py (REPO_URL, CLONE), the one place the repository address is written:
re-run this after changing it or adding a notebook. --check only reports notebooks that differ (exit 1).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from igan_lite.notebook.colab import CLONE, REPO_URL, badge  # noqa: E402

SETUP = f'''# On Google Colab only: clone igan-lite, install it with the system libraries it renders with, and say
# which device training will use (igan_lite/notebook/colab.py). Anywhere else this cell does nothing.
import os, subprocess, sys
if "google.colab" in sys.modules:
    if not os.path.isdir("{CLONE}"):
        subprocess.run(["git", "clone", "-q", "--depth", "1", "{REPO_URL}", "{CLONE}"], check=True)
    sys.path.insert(0, "{CLONE}")
    from igan_lite.notebook.colab import setup
    setup("{CLONE}")'''


def colab_cells(notebook: str) -> list:
    return [nbformat.v4.new_markdown_cell(badge(notebook), id="colab-badge"),
            nbformat.v4.new_code_cell(SETUP, id="colab-setup")]


def updated(path: Path):
    """The notebook with its Colab cells (replacing old ones), or None if they are already up to date."""
    nb = nbformat.read(path, as_version=4)
    rest = [c for c in nb.cells if c.get("id") not in ("colab-badge", "colab-setup")]
    cells = colab_cells(path.name)
    if [(c.cell_type, c.source) for c in nb.cells[:2]] == [(c.cell_type, c.source) for c in cells]:
        return None
    nb.cells = cells + rest
    return nb


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    stale = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = updated(path)
        if nb is not None:
            stale.append(path.name)
            if not args.check:
                nbformat.write(nb, path)
    print(("out of date: " if args.check else "updated: ") + (", ".join(stale) or "none"))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())

"""Store an executed notebook's outputs in its source notebook, so that GitHub shows its figures unrun.

    python scripts/store_outputs.py runs/notebooks/01_dataset.ipynb notebooks/01_dataset.ipynb --preset lite

`scripts/run_notebooks.py --store-outputs` (what `make reproduce` runs at the lite preset) calls `store` after
each notebook. What is kept is what a reader of the page needs, nothing that is machine- or session-bound:
- widget views and the widget state (they only work with a live kernel) and JavaScript-only outputs (plotly's
  3D views) become one line saying so;
- Open3D's and Filament's start-up banners and progress-bar redraws are dropped from the streams;
- absolute paths become `<path>` (the repository) or `<tmp>` (a temporary folder);
- execution timings and papermill's metadata are dropped; execution counts are renumbered;
- an exercise's solution (a cell tagged "solution") keeps no output: the answer is not shown before it is asked
  for, and the cell stays collapsed (its source and outputs hidden in the notebook's metadata).
The notebook's metadata records the preset, the injected parameters and the sha256 of the code cells
(`code_digest`), so tests/test_stored_outputs.py can tell stored outputs that no longer match the code.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import tempfile
from pathlib import Path

import nbformat

MAX_BYTES = 3_000_000  # a stored notebook above this is an error: draw its figures smaller
KEY = "igan_lite_outputs"
INTERACTIVE = ("application/vnd.jupyter.widget-view+json", "application/vnd.plotly.v1+json", "application/javascript")
INTERACTIVE_NOTE = "[interactive output (a widget or a plotly 3D view): run the notebook to use it]"
BANNER = re.compile(r"^(FEngine \(64 bits\) created|EGL\(\d|OpenGL\(\d|WARNING: Using soft CircularBuffer|"
                    r"\[Open3D INFO\]|Jupyter environment detected\. Enabling Open3D WebVisualizer)")
ROOT = Path(__file__).resolve().parents[1]
TMP = re.compile(re.escape(tempfile.gettempdir().rstrip("/")) + r"/[^/\s'\"<>]+")


def code_digest(nb) -> str:
    """sha256 of the notebook's code cells, in order (the papermill-injected parameters cell excluded)."""
    sources = [c.source for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]
    return hashlib.sha256(json.dumps(sources).encode()).hexdigest()


def scrub(text: str) -> str:
    """TEXT with absolute paths replaced, Filament's banner lines dropped and progress redraws collapsed."""
    text = text.replace(str(ROOT), "<path>").replace(str(Path.home()), "<home>")
    text = TMP.sub("<tmp>", text)
    lines = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
    return "\n".join(line for line in lines if not BANNER.match(line))


def clean_output(out: dict) -> dict | None:
    """One output as stored: None to drop it, a note in place of an interactive one."""
    if out["output_type"] == "stream":
        out["text"] = scrub(out["text"])
        return out if out["text"].strip() else None
    if out["output_type"] == "error":
        out["traceback"] = [scrub(t) for t in out["traceback"]]
        return out
    data = out.get("data", {})
    if any(k in data for k in INTERACTIVE) or "<script" in str(data.get("text/html", "")):
        return nbformat.v4.new_output("display_data", {"text/plain": INTERACTIVE_NOTE})
    out["data"] = {k: scrub(v) if k.startswith("text/") and isinstance(v, str) else v for k, v in data.items()}
    out.get("metadata", {}).pop("transient", None)
    return out


def kernel_metadata(run) -> dict:
    """The kernelspec and language_info JupyterLab writes when the notebook's kernel starts: the kernel's own
    display name (papermill records a shorter one) and the executed notebook's language_info."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    meta = {"kernelspec": {"display_name": spec.display_name, "language": spec.language, "name": "python3"}}
    if "language_info" in run.metadata:
        meta["language_info"] = run.metadata["language_info"]
    return meta


def fixed_preset(nb) -> str | None:
    """The preset a notebook's parameters cell fixes whatever IGAN_PRESET says (notebook 08: smoke), else None."""
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            found = re.search(r'^preset = "(\w+)"', cell.source, re.M)
            return found.group(1) if found else None
    return None


def store(executed: str | Path, source: str | Path, preset: str, parameters: dict | None = None) -> int:
    """Copy EXECUTED's cleaned outputs into SOURCE (same cells, in order, bar papermill's injected cell);
    returns SOURCE's size in bytes. Raises ValueError if the cells differ or the result exceeds MAX_BYTES."""
    run, nb = nbformat.read(executed, 4), nbformat.read(source, 4)
    cells = [c for c in run.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    if [c.source for c in cells] != [c.source for c in nb.cells]:
        raise ValueError(f"{executed} was not executed from the current {source}: their cells differ")
    count = 0
    for mine, done in zip(nb.cells, cells):
        if mine.cell_type != "code":
            continue
        outputs, seen_note = [], False
        for out in map(clean_output, done.get("outputs", [])):
            note = out is not None and out.get("data", {}).get("text/plain") == INTERACTIVE_NOTE
            if out is not None and not (note and seen_note):
                outputs.append(out)
            seen_note |= note
        count += 1
        if "solution" in mine.metadata.get("tags", []):
            outputs = []
        mine.outputs, mine.execution_count = outputs, count
        for key in ("execution", "papermill"):
            mine.metadata.pop(key, None)
    nb.metadata.pop("widgets", None)
    nb.metadata.update(kernel_metadata(run))  # what JupyterLab sets on opening: stored, opening changes nothing
    nb.metadata[KEY] = {"preset": fixed_preset(nb) or preset, "parameters": parameters or {}, "code_digest": code_digest(nb)}
    text = (nbformat.writes(nb) + "\n").encode()
    if len(text) > MAX_BYTES:
        raise ValueError(f"{source} would be {len(text) / 1e6:.1f} MB with its outputs, above "
                         f"{MAX_BYTES / 1e6:.0f} MB: draw its figures smaller")
    Path(source).write_bytes(text)
    return len(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("executed", type=Path)
    ap.add_argument("source", type=Path)
    ap.add_argument("--preset", required=True)
    args = ap.parse_args()
    size = store(args.executed, args.source, args.preset)
    print(f"{args.source}: outputs stored, {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()

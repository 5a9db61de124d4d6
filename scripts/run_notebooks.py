"""Execute notebooks headless with papermill, with a time limit per cell; a failure names the notebook and cell.

    python scripts/run_notebooks.py notebooks/0*.ipynb --out runs/notebooks --cell-timeout 1800 -p 03_:steps=100

`make reproduce` runs this, with --store-outputs at the lite preset (store_outputs.py: the cleaned outputs are
written back into each source notebook, so that it shows its figures unrun). A cell that raises or runs past
--cell-timeout stops the run with "NOTEBOOK, cell N (code cell K): ERROR" and exit status 1; the executed notebook (with the traceback) is kept
under --out. Papermill's own default waits for ever, so a lost kernel reply used to hang the run.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import papermill
from nbclient.exceptions import CellTimeoutError
from store_outputs import store


class NotebookCellError(RuntimeError):
    """A notebook cell failed or timed out; str() names the notebook, the cell and the error."""


def run_notebook(path: str | Path, out: str | Path, parameters: dict | None = None, cell_timeout: int = 1800,
                 kernel: str = "python3", progress: bool = True, start_timeout: int = 300) -> None:
    """papermill PATH -> OUT in PATH's folder; raises NotebookCellError naming the cell on error or timeout."""
    path, out = Path(path), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    running = {}

    def on_cell_start(cell, cell_index):  # nbclient's hook: remember which cell runs
        running.update(index=cell_index, line=cell.source.strip().splitlines()[0][:80] if cell.source.strip() else "")

    try:
        papermill.execute_notebook(str(path), str(out), parameters=parameters or {}, cwd=str(path.parent),
                                   kernel_name=kernel, execution_timeout=cell_timeout, progress_bar=progress,
                                   start_timeout=start_timeout, on_cell_start=on_cell_start)
    except Exception as e:  # papermill's own error, nbclient's timeout, a dead kernel
        # the index counts cells of the executed notebook, where papermill adds one after the parameters cell
        cell = f"cell {running['index']} of {out} (`{running['line']}`)" if running else "kernel start"
        what = (f"timed out after {cell_timeout} s (--cell-timeout)" if isinstance(e, CellTimeoutError)
                else f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}")
        raise NotebookCellError(f"{path}, {cell}: {what}") from e


def _parameters(specs: list[str], notebook: Path) -> dict:
    """-p PATTERN:NAME=VALUE applies to notebooks whose name contains PATTERN (values are parsed as ints if
    they look like one)."""
    params = {}
    for spec in specs:
        pattern, _, assignment = spec.rpartition(":")
        name, sep, value = assignment.partition("=")
        if not sep or not name:
            raise SystemExit(f"-p {spec!r}: expected [PATTERN:]NAME=VALUE")
        if pattern in notebook.name:
            params[name] = int(value) if value.lstrip("-").isdigit() else value
    return params


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("runs/notebooks"), help="folder for the executed notebooks")
    ap.add_argument("--cell-timeout", type=int, default=1800, help="seconds a cell may run (default 1800)")
    ap.add_argument("-p", "--parameter", action="append", default=[], metavar="[PATTERN:]NAME=VALUE")
    ap.add_argument("--store-outputs", action="store_true", help="write each executed notebook's cleaned outputs "
                    "back into the source notebook (store_outputs.py)")
    args = ap.parse_args(argv)
    if args.cell_timeout <= 0:
        ap.error(f"--cell-timeout: expected seconds > 0, got {args.cell_timeout}")
    for nb in args.notebooks:
        if not nb.is_file():
            ap.error(f"{nb}: no such notebook")
        start, parameters = time.monotonic(), _parameters(args.parameter, nb)
        try:
            run_notebook(nb, args.out / nb.name, parameters, args.cell_timeout)
            stored = ""
            if args.store_outputs:
                size = store(args.out / nb.name, nb, os.environ.get("IGAN_PRESET", "lite"), parameters)
                stored = f", outputs stored ({size / 1e6:.2f} MB)"
        except (NotebookCellError, ValueError) as e:
            print(f"FAILED: {e}", file=sys.stderr)
            return 1
        print(f"{nb}: done in {time.monotonic() - start:.0f} s{stored}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

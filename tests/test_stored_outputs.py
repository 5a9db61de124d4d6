"""Every notebook is stored with its lite outputs (scripts/store_outputs.py), clean, and current with its code."""
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from store_outputs import BANNER, INTERACTIVE_NOTE, KEY, MAX_BYTES, code_digest, fixed_preset, store  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
ABSOLUTE = re.compile(r"(?<![\w.<>:/])/(?:work|root|home|tmp|Users|content|private|mnt|var/folders)/")
RESTORE = "IGAN_PRESET=lite .venv/bin/python scripts/run_notebooks.py {} --store-outputs"


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_with_current_lite_outputs(path):
    nb = nbformat.read(path, 4)
    stored = nb.metadata.get(KEY)
    assert stored, f"{path.name} has no stored outputs; run: {RESTORE.format(path.relative_to(ROOT))}"
    want = fixed_preset(nb) or "lite"  # notebook 08 runs at smoke whatever IGAN_PRESET says
    assert stored["preset"] == want, f"{path.name} holds {stored['preset']} outputs, not {want}"
    assert stored["code_digest"] == code_digest(nb), \
        f"{path.name}'s code changed since its outputs were stored; run: {RESTORE.format(path.relative_to(ROOT))}"
    assert path.stat().st_size <= MAX_BYTES
    assert any("image/png" in o.get("data", {}) for o in _outputs(nb)), f"{path.name} stores no figure"
    assert not any(o.output_type == "error" for o in _outputs(nb)), f"{path.name} was stored with an error"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_hold_no_widget_state_path_or_banner(path):
    nb = nbformat.read(path, 4)
    assert "widgets" not in nb.metadata
    text = json.dumps([o for o in _outputs(nb) if o.output_type != "display_data" or "image/png" not in o.data])
    assert "application/vnd.jupyter.widget-view+json" not in text and "<script" not in text
    assert not ABSOLUTE.search(text), f"{path.name}: an absolute path in its outputs: {ABSOLUTE.search(text)[0]}..."
    streams = "".join(o.text for o in _outputs(nb) if o.output_type == "stream")
    assert not [line for line in streams.splitlines() if BANNER.match(line)], f"{path.name}: a renderer banner"


def test_store_cleans_what_a_reader_should_not_see(tmp_path):
    source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell("m")])
    run = nbformat.from_dict(json.loads(nbformat.writes(source)))
    run.cells.insert(0, nbformat.v4.new_code_cell("preset = 'lite'", metadata={"tags": ["injected-parameters"]}))
    run.metadata["widgets"] = {"state": {}}
    run.cells[1].metadata["papermill"] = {"duration": 1.0}
    run.cells[1].outputs = [
        nbformat.v4.new_output("stream", name="stderr", text=f"FEngine (64 bits) created at 0x1\nEGL(1.5)\n"
                               f"step 1\rstep 2\nread {ROOT}/data/x and /tmp/tmpab12/y\n"),
        nbformat.v4.new_output("display_data", {"application/vnd.jupyter.widget-view+json": {"model_id": "a"},
                                                "text/plain": "VBox()"}),
        nbformat.v4.new_output("display_data", {"text/html": "<script>plotly</script>", "text/plain": "Figure"}),
        nbformat.v4.new_output("display_data", {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
    ]
    (tmp_path / "run.ipynb").write_text(nbformat.writes(run))
    (tmp_path / "nb.ipynb").write_text(nbformat.writes(source))
    store(tmp_path / "run.ipynb", tmp_path / "nb.ipynb", "lite", {"steps": 3})
    nb = nbformat.read(tmp_path / "nb.ipynb", 4)
    outs = nb.cells[0].outputs
    assert outs[0].text == "step 2\nread <path>/data/x and <tmp>/y\n"
    assert [o.data["text/plain"] for o in outs[1:]] == [
        "[interactive output (a widget or a plotly 3D view): run the notebook to use it]", "<Figure>"]
    assert "widgets" not in nb.metadata and "papermill" not in nb.cells[0].metadata
    assert nb.metadata[KEY] == {"preset": "lite", "parameters": {"steps": 3}, "code_digest": code_digest(nb)}


def test_store_refuses_a_run_of_other_code(tmp_path):
    source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    run = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 2")])
    (tmp_path / "run.ipynb").write_text(nbformat.writes(run))
    (tmp_path / "nb.ipynb").write_text(nbformat.writes(source))
    with pytest.raises(ValueError, match="cells differ"):
        store(tmp_path / "run.ipynb", tmp_path / "nb.ipynb", "lite")


def test_store_refuses_a_notebook_over_the_size_limit(tmp_path):
    source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    run = nbformat.from_dict(json.loads(nbformat.writes(source)))
    run.cells[0].outputs = [nbformat.v4.new_output("display_data", {"image/png": "A" * (MAX_BYTES + 1)})]
    (tmp_path / "run.ipynb").write_text(nbformat.writes(run))
    (tmp_path / "nb.ipynb").write_text(nbformat.writes(source))
    with pytest.raises(ValueError, match="draw its figures smaller"):
        store(tmp_path / "run.ipynb", tmp_path / "nb.ipynb", "lite")
    assert nbformat.read(tmp_path / "nb.ipynb", 4).cells[0].outputs == []


BAND = re.compile(r"^ *(\w+) ([\w-]+): (\w+)(?:, (?:step (\d+)|steps (\d+)-(\d+)|all steps)| \(([a-z ]+)(?:; \d+ of \d+ runs scored so far)?\)): .*$", re.M)


def _stored_text(nb) -> str:
    return "\n".join(o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
                     for o in _outputs(nb))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_numbers_are_what_the_shipped_runs_give_now(path):
    """Every expected value a stored cell printed (notebook.expected's bands name their category, variant, metric
    and steps) is computed again from checkpoints/lite; a stale cell fails here, naming the line."""
    from igan_lite.notebook.expected import metric_band, score_band

    nb = nbformat.read(path, 4)
    for m in BAND.finditer(_stored_text(nb)):
        category, variant, metric, step, first, last, entry = m.groups()
        if entry is not None:
            band = score_band(metric, category, variant, entry=entry.replace(" ", "_"))
        else:
            steps = (int(step), int(step)) if step else (int(first), int(last)) if first else None
            band = metric_band(metric, steps, category, variant)
        assert m.group(0).strip().startswith(str(band)), f"{path.name}: stored {m.group(0).strip()!r}, now {band}"


def test_notebook06_shows_the_shipped_table_claims_and_length_block():
    from igan_lite.experiments.claims import claims_markdown, noise_file
    from igan_lite.experiments.length_report import length_markdown
    from igan_lite.experiments.results_table import noise_margins

    nb = nbformat.read(ROOT / "notebooks" / "06_fid_results.ipynb", 4)
    shown = [o.data.get("text/markdown", "") for o in _outputs(nb) if o.output_type == "display_data"]
    assert (ROOT / "figures" / "results_lite.md").read_text() in shown, "notebook 06's stored table is not figures/results_lite.md"
    assert claims_markdown(ROOT / "figures" / "results_lite.csv") in shown, "notebook 06's stored claims are stale"
    noise = noise_margins(noise_file(ROOT / "figures" / "results_lite.csv", "lite"))
    assert length_markdown(ROOT / "figures" / "length_study_lite.csv", noise) in shown, "notebook 06's length block is stale"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_interactive_view_stores_a_picture_beside_it(path):
    """A widget or 3D view (stored as a note) has a picture of its first view in its cell or the code cell before."""
    code = [c for c in nbformat.read(path, 4).cells if c.cell_type == "code"]
    for before, cell in zip([None] + code, code):
        if any(INTERACTIVE_NOTE in str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs):
            pictures = [o for c in (before, cell) if c is not None for o in c.outputs if "image/png" in o.get("data", {})]
            assert pictures, f"{path.name}: a widget or 3D view with no picture beside it: {cell.source[:80]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_has_an_attempt_cell_and_a_hidden_answer(path):
    nb = nbformat.read(path, 4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.source.startswith("# solution:"):
            assert "solution" in cell.metadata.get("tags", []) and not cell.outputs, f"{path.name}: an answer shows"
            assert cell.metadata.get("jupyter") == {"source_hidden": True, "outputs_hidden": True}
            assert nb.cells[i - 1].source.startswith("# Your attempt"), f"{path.name}: no cell for the attempt"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_is_stored_as_jupyter_writes_it(path):
    """Byte for byte what nbformat (JupyterLab's writer) makes of it, with the kernel's language_info, so that
    opening it changes nothing (tests/test_browser.py checks the editor too)."""
    text = path.read_text()
    nb = nbformat.reads(text, 4)
    assert nbformat.writes(nb) + "\n" == text
    assert nb.metadata.get("language_info", {}).get("name") == "python"

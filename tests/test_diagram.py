"""docs/iggan_diagram.svg is what igan_lite/notebook/diagram.py draws, and the picture names every loss and net."""
import re
from pathlib import Path

from igan_lite.notebook import diagram

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "docs" / "iggan_diagram.svg"


def _texts(svg: str) -> list[str]:
    """The text of an SVG written with svg.fonttype "none" (text kept as <text> elements)."""
    return [re.sub(r"<[^>]+>", "", t).strip() for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)]


def test_the_committed_svg_is_what_the_code_draws(tmp_path):
    fresh = diagram.save(tmp_path / "d.svg").read_text()
    assert _texts(SVG.read_text()) == _texts(fresh), "docs/iggan_diagram.svg is stale: python -m igan_lite.notebook.diagram"
    assert SVG.stat().st_size < 200_000


def test_the_picture_shows_every_net_loss_and_gate():
    text = " ".join(_texts(SVG.read_text()))
    for word in ("generator", "real renderer", "proxy renderer", "discriminator", "L_D", "L_R", "L_G", "L_ms",
                 "DOM", "d_acc_max", "d_ahead_loss", "g_hold_proxy_error", "no gradient", "pretraining", "U[0.3, 0.7]"):
        assert word in text, word

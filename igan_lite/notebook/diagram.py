"""The picture of IG-GAN (docs/iggan_diagram.svg; README, notebooks 02 and 03), drawn by code.

What feeds what (solid arrows), which loss trains which net (coloured boxes), and where gradients flow
(dashed arrows, in the colour of the loss they carry): docs/method.md §11 has the equations.

    python -m igan_lite.notebook.diagram docs/iggan_diagram.svg
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# one colour per loss, used for its box, the net it trains and the gradients it sends
LOSS_COLOURS = {"D": "#c0392b", "R": "#2471a3", "G": "#1e8449"}
GREY = "#555555"

NODES = {  # name: (x, y, width, height, label, the loss that trains it or None)
    "z": (0.2, 4.6, 1.5, 0.8, "z ~ N(0, I)", None),
    "G": (2.3, 4.5, 1.4, 1.0, "G\ngenerator", "G"),
    "x": (4.3, 4.55, 1.9, 0.9, "voxels x = G(z)\nN³ in [0, 1]", None),
    "f": (7.0, 6.1, 2.8, 1.0, "f: real renderer\n(Open3D, marching cubes)", None),
    "cam": (7.0, 4.55, 2.8, 0.9, "camera c ~ prior\nsurface level t ~ U[0.3, 0.7]", None),
    "R": (7.0, 2.9, 2.8, 1.0, "R: proxy renderer\nsees x + 0.5 − t", "R"),
    "fimg": (10.4, 6.2, 1.5, 0.8, "f(x, c)", None),
    "rimg": (10.4, 3.0, 1.5, 0.8, "R(x, c)", None),
    "y": (10.4, 7.7, 1.5, 0.8, "real images y", None),
    "D": (12.7, 4.6, 1.7, 1.0, "D\ndiscriminator", "D"),
}

LOSSES = {  # the loss that trains each net: (x, y, width, height, text)
    "D": (15.0, 6.9, 5.2, 1.35, "L_D = −log σ(D(y)) − log(1 − σ(D(f(x, c))))\ntrains D unless it is ahead:\nacc ≥ d_acc_max and loss < d_ahead_loss"),
    "R": (15.0, 4.45, 5.2, 1.6, "L_R = λ_L2 ‖R(x, c) − f(x, c)‖² + λ_DOM ρ(D(R) − D(f))\n"
                                "trains R (proxy_steps times; x detached, D frozen)\n"
                                "ρ: squared error, slope capped at 2 (DOM)"),
    "G": (15.0, 2.0, 5.2, 1.5, "L_G = −log σ(D(R(G(z), c))) + λ_ms L_ms\ntrains G through D and R (both frozen);\n"
                               "held while R's error > g_hold_proxy_error"),
}


def _box(ax, x, y, w, h, text, edge, face="white", size=9, weight="normal"):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05,rounding_size=0.12", linewidth=1.6,
                                edgecolor=edge, facecolor=face))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size, weight=weight, linespacing=1.3)


def _anchor(name: str, side: str) -> tuple[float, float]:
    x, y, w, h = NODES[name][:4]
    return {"left": (x, y + h / 2), "right": (x + w, y + h / 2), "top": (x + w / 2, y + h),
            "bottom": (x + w / 2, y)}[side]


def _arrow(ax, start, end, colour=GREY, dashed=False, rad=0.0, width=1.4):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=13, color=colour, linewidth=width,
                                 linestyle=(0, (4, 3)) if dashed else "-", connectionstyle=f"arc3,rad={rad}",
                                 shrinkA=2, shrinkB=2))


def iggan_diagram() -> plt.Figure:
    """The whole of IG-GAN in one figure: data flow, the three losses and the gradients each sends."""
    fig, ax = plt.subplots(figsize=(14, 6.4))
    ax.set_xlim(0, 20.4)
    ax.set_ylim(0.3, 9.0)
    ax.axis("off")
    for name, (x, y, w, h, text, loss) in NODES.items():
        _box(ax, x, y, w, h, text, LOSS_COLOURS[loss] if loss else GREY, face="white" if loss else "#f4f4f4",
             weight="bold" if loss else "normal")
    for name, (x, y, w, h, text) in LOSSES.items():
        _box(ax, x, y, w, h, text, LOSS_COLOURS[name], face=LOSS_COLOURS[name] + "18", size=8.5)
    a = _anchor
    green, blue, red = LOSS_COLOURS["G"], LOSS_COLOURS["R"], LOSS_COLOURS["D"]

    # forward: what feeds what
    for start, end in [(a("z", "right"), a("G", "left")), (a("G", "right"), a("x", "left")),
                       (a("f", "right"), a("fimg", "left")), (a("R", "right"), a("rimg", "left")),
                       (a("cam", "top"), a("f", "bottom")), (a("cam", "bottom"), a("R", "top"))]:
        _arrow(ax, start, end)
    _arrow(ax, (6.2, 5.25), a("f", "left"), rad=-0.2)
    _arrow(ax, (6.2, 4.75), a("R", "left"), rad=0.2)
    for image in ("y", "fimg", "rimg"):
        _arrow(ax, a(image, "right"), a("D", "left"))
    for loss, y in (("D", 7.55), ("R", 5.25), ("G", 2.75)):  # D's logits into each loss
        _arrow(ax, a("D", "right"), (15.0, y), colour=LOSS_COLOURS[loss])
    _arrow(ax, a("fimg", "bottom"), a("rimg", "top"), colour=blue)  # f's image: R's pixel target
    ax.text(11.25, 4.9, "pixel L2\ntarget", fontsize=7.5, color=blue, va="center")
    x0 = a("x", "bottom")[0]  # mode seeking reads x (and z) directly
    ax.plot([x0, x0, 17.6], [4.55, 1.3, 1.3], color=green, linewidth=1.2)
    _arrow(ax, (17.6, 1.3), (17.6, 2.0), colour=green, width=1.2)
    ax.text(10.4, 0.95, "mode seeking L_ms: G's outputs x and codes z, batch halves paired", fontsize=8, color=green)

    # backward: where each loss's gradient goes (dashed)
    _arrow(ax, (15.0, 7.2), (14.0, 5.6), colour=red, dashed=True, rad=0.2)
    _arrow(ax, (15.0, 4.7), (9.8, 3.5), colour=blue, dashed=True, rad=0.15)
    _arrow(ax, (15.0, 2.3), (9.8, 3.1), colour=green, dashed=True, rad=-0.1)
    _arrow(ax, (7.0, 3.05), (5.7, 4.55), colour=green, dashed=True, rad=-0.3)
    _arrow(ax, (4.3, 4.75), (3.7, 4.75), colour=green, dashed=True)
    ax.text(6.5, 6.25, "✗", ha="center", va="center", fontsize=15, color=red)
    ax.text(8.4, 7.35, "no gradient flows back through f", ha="center", fontsize=8.5, color=red)

    # before the loop
    _box(ax, 0.2, 6.9, 5.4, 1.5, "before training: proxy pretraining\nR learns f by pixel L2 on prior grids\n"
                                 "(primitives, soft blobs, speckle, untrained G)", blue, size=8.5)
    ax.text(0.2, 0.5, "solid: forward    dashed: gradient    L_D (red) trains D · L_R (blue) trains R · "
            "L_G (green) trains G", fontsize=8.5, color=GREY)
    fig.tight_layout()
    return fig


def save(path: str | Path) -> Path:
    """Write the diagram to `path` (.svg with text kept as text, or .png); returns the path."""
    path = Path(path)
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "igan-lite"}):
        fig = iggan_diagram()
        fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(save(sys.argv[1] if len(sys.argv) > 1 else "docs/iggan_diagram.svg"))

"""Pictures for notebooks: image grids (matplotlib), 3D meshes (plotly), a re-render panel (ipywidgets)."""
from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image
from plotly.subplots import make_subplots

from igan_lite.core.camera import Camera
from igan_lite.render.renderer import RenderSettings, render_voxels


def image_grid(images: torch.Tensor, ncols: int = 8, titles: list[str] | None = None, scale: float = 1.2):
    """Images (B, C, H, W) in [0, 1] -> a matplotlib Figure with one panel each."""
    images = images.detach().cpu()
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * scale), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            img = images[i].permute(1, 2, 0).numpy()
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
            if titles:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def _mesh_trace(mesh) -> go.Mesh3d:
    v, f = np.asarray(mesh.vertices), np.asarray(mesh.triangles)
    # plotly's z is up; our world has y up, so show (x, z, y)
    return go.Mesh3d(x=v[:, 0], y=v[:, 2], z=v[:, 1], i=f[:, 0], j=f[:, 1], k=f[:, 2],
                     color="lightsteelblue", flatshading=True, lighting=dict(ambient=0.4, diffuse=0.8))


def meshes_figure(meshes, titles: list[str], height: int = 280, ncols: int = 3) -> go.Figure:
    """Open3D meshes as rotatable plotly 3D views, `ncols` to a row (wider rows fall off a notebook's width)."""
    cols = min(ncols, len(meshes))
    rows = -(-len(meshes) // cols)
    fig = make_subplots(rows=rows, cols=cols, specs=[[{"type": "scene"}] * cols] * rows, subplot_titles=titles)
    for i, mesh in enumerate(meshes):
        fig.add_trace(_mesh_trace(mesh), row=i // cols + 1, col=i % cols + 1)
    cube = dict(range=[-0.5, 0.5], visible=False)
    fig.update_scenes(xaxis=cube, yaxis=cube, zaxis=cube, aspectmode="cube")
    fig.update_layout(height=height * rows, width=260 * cols, margin=dict(l=0, r=0, t=30, b=0), showlegend=False)
    return fig


def show_meshes(meshes, titles: list[str], settings: RenderSettings = RenderSettings(image_size=160)) -> None:
    """The meshes twice: a static picture (Open3D renders from one view: what GitHub and a notebook without a
    live kernel show) and the rotatable plotly figure (run the notebook to turn them)."""
    from IPython.display import display

    from igan_lite.render.renderer import render_meshes

    images = render_meshes(list(meshes), [Camera(35.0, 25.0)] * len(meshes), settings)
    plt.show(image_grid(images, ncols=min(len(meshes), 6), titles=list(titles), scale=1.8))
    display(meshes_figure(meshes, titles))


FIGURES = Path(__file__).resolve().parents[2] / "figures"  # the repository's, beside checkpoints/


def shipped_figure(name: str, caption: str, width: int = 720) -> None:
    """figures/NAME, made from the shipped lite runs, under a caption saying so: what a notebook shows as the
    project's result at every preset (a smoke run of yours is a pipeline check, not a result)."""
    from IPython.display import Image, Markdown, display

    path = FIGURES / name
    if not path.is_file():
        display(Markdown(f"*(`figures/{name}` is not in this copy of igan-lite: clone the repository to see it)*"))
        return
    display(Markdown(f"**Shipped result** (`figures/{name}`): {caption}"))
    display(Image(filename=str(path), width=width))


def own_run_note(p, what: str) -> None:
    """A label over a cell that trains live: whose run it is, at which preset; at smoke, that it checks the
    pipeline and its numbers mean nothing."""
    from IPython.display import Markdown, display

    text = f"**Your run**: {what}, at the `{p.name}` preset ({p.steps} steps, {p.voxel_res}³ voxels)."
    if p.name == "smoke":
        text += (" At `smoke` this is a pipeline check: the shapes are 16³ and training lasts seconds, so its "
                 "numbers and pictures mean nothing. The project's results are the shipped lite ones shown here.")
    display(Markdown(text))


def png_bytes(image: torch.Tensor, size: int = 256) -> bytes:
    """One image (C, H, W) in [0, 1] -> PNG bytes, enlarged to `size` pixels without smoothing."""
    pixels = (image.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    picture = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    buffer = io.BytesIO()
    picture.resize((size, size), Image.Resampling.NEAREST).save(buffer, format="png")
    return buffer.getvalue()


def render_panel(grids: dict, settings: RenderSettings):
    """ipywidgets panel: choose a grid and move the camera and lights; the real renderer redraws.

    The picture is an Image widget whose value is replaced, not an Output widget: headless runners
    (nbclient, under papermill and nbval) answer output sent into an Output widget with a comm message on
    the shell socket while they wait on that socket for the cell's reply, and under load that reply can be
    missed for ever (the hang `make reproduce` once had at this cell)."""
    import ipywidgets as widgets

    controls = dict(
        name=widgets.Dropdown(options=list(grids), description="shape"),
        azimuth=widgets.FloatSlider(value=30, min=0, max=360, step=5, description="azimuth"),
        elevation=widgets.FloatSlider(value=25, min=-30, max=89, step=5, description="elevation"),
        sun=widgets.FloatLogSlider(value=settings.sun_intensity, base=10, min=4, max=6, description="sun"),
        ambient=widgets.FloatLogSlider(value=settings.ambient_intensity, base=10, min=3, max=5.5, description="ambient"),
    )
    picture = widgets.Image(format="png", width=256, height=256)

    def draw(_=None):
        v = {k: c.value for k, c in controls.items()}
        s = replace(settings, sun_intensity=v["sun"], ambient_intensity=v["ambient"])
        picture.value = png_bytes(render_voxels(grids[v["name"]], Camera(v["azimuth"], v["elevation"]), s)[0])

    for control in controls.values():
        control.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([controls["name"], controls["azimuth"], controls["elevation"]]),
                         widgets.HBox([controls["sun"], controls["ambient"]]), picture])


METRIC_PANELS = {
    "GAN losses": ("loss_d", "loss_g"),
    "proxy vs f on generator samples": ("proxy_error",),
    "discriminator accuracy": ("d_acc",),
    "occupancy": ("occupancy",),
    "diversity (1 - IoU)": ("diversity",),
    "isolated voxels": ("isolated",),
}


def plot_metrics(runs: list[dict] | dict[str, list[dict]], panels: dict = METRIC_PANELS, smooth: int = 5):
    """Training curves from metrics.jsonl rows (or {label: rows} to overlay runs), one panel per group,
    moving average over `smooth` steps; keys a run did not log (a baseline has no proxy) are skipped."""
    runs = runs if isinstance(runs, dict) else {"": runs}
    fig, axes = _panels(len(panels))
    for ax, (title, keys) in zip(axes.flat, panels.items()):
        for label, rows in runs.items():
            steps = np.array([r["step"] for r in rows])
            for key in (k for k in keys if rows and k in rows[0]):
                y = np.array([r[key] for r in rows], dtype=float)
                if len(y) >= smooth > 1:
                    y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
                ax.plot(steps[len(steps) - len(y):], y, label=" ".join(filter(None, (label, key if len(keys) > 1 else ""))))
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("step", fontsize=10)
        if ax.get_legend_handles_labels()[1] and (len(keys) > 1 or len(runs) > 1):
            ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def _panels(n: int, ncols: int = 3):
    """A grid of n panels, ncols wide, large enough that its text reads at a notebook's width."""
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, 3.1 * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes


def seed_bands(groups: dict[str, list[list[dict]]], panels: dict = METRIC_PANELS, smooth: int = 9):
    """Each group's curves over seeds ({label: [metrics rows of each seed]}): the median across seeds as a line,
    the min-max across seeds as a band, moving average over `smooth` steps; one panel per single-key group."""
    panels = {t: k for t, k in panels.items() if len(k) == 1}
    fig, axes = _panels(len(panels))
    for ax, (title, (key,)) in zip(axes.flat, panels.items()):
        for label, seeds in groups.items():
            steps = min(len(rows) for rows in seeds)
            y = np.array([[r[key] for r in rows[:steps]] for rows in seeds if rows and key in rows[0]], dtype=float)
            if not len(y):
                continue
            if steps >= smooth > 1:
                y = np.stack([np.convolve(v, np.ones(smooth) / smooth, mode="valid") for v in y])
            x = np.arange(steps - y.shape[1] + 1, steps + 1)
            line, = ax.plot(x, np.median(y, 0), label=f"{label} ({len(y)} seeds)")
            ax.fill_between(x, y.min(0), y.max(0), color=line.get_color(), alpha=0.2, lw=0)
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("step", fontsize=10)
    axes[0, 0].legend(fontsize=9)
    fig.tight_layout()
    return fig


def ablation_panel(run_variant, reference: dict):
    """ipywidgets: set DOM and its weight, proxy pretraining and the mode-seeking weight, press "train": the
    new run's curves are drawn over the `reference` runs' ({label: run folder}) and its samples shown.
    `run_variant(**preset_overrides)` trains (or reuses) the run and returns its folder (lab.ablation_run)."""
    import ipywidgets as widgets
    from IPython.display import Image, display

    from igan_lite.training.run_folder import last_samples, read_metrics

    dom = widgets.Checkbox(value=True, description="DOM")
    lambda_dom = widgets.FloatLogSlider(value=0.1, base=10, min=-3, max=1, description="λ_DOM")
    pretrain = widgets.Checkbox(value=True, description="pretrain proxy")
    lambda_ms = widgets.FloatLogSlider(value=0.05, base=10, min=-3, max=0, description="λ mode seeking",
                                       style={"description_width": "initial"})  # the whole label, not "λ mode s…"
    button, out = widgets.Button(description="train", button_style="primary"), widgets.Output()

    def on_click(_):
        overrides = {"lambda_dom": lambda_dom.value if dom.value else 0.0, "pretrain": pretrain.value,
                     "lambda_ms": lambda_ms.value}
        with out:
            out.clear_output(wait=True)
            run = run_variant(**overrides)
            curves = {**{label: read_metrics(r) for label, r in reference.items()}, "yours": read_metrics(run)}
            plt.show(plot_metrics(curves))
            display(Image(filename=str(last_samples(run))))

    button.on_click(on_click)
    return widgets.VBox([widgets.HBox([dom, lambda_dom]), widgets.HBox([pretrain, lambda_ms]), button, out])


def plot_failure(outcome, statistic: str, title: str = "", log: bool = False):
    """A reproduced failure (failures.Outcome): `statistic` by step for the broken and the healthy run, with a
    dot at every step where the failure's warning fired (diagnostics.collapse_warnings)."""
    fig, ax = plt.subplots(figsize=(5, 2.6))
    for label, rows, colour in (("broken", outcome.broken, "tab:red"), ("healthy", outcome.healthy, "tab:green")):
        steps, values = [r["step"] for r in rows], [r[statistic] for r in rows]
        ax.plot(steps, values, color=colour, label=label)
        fired = [(s, v) for s, v, r in zip(steps, values, rows) if outcome.failure.kind in r["warnings"]]
        if fired:
            ax.scatter(*zip(*fired), color=colour, zorder=3, label=f"'{outcome.failure.kind}' warning")
    ax.set_xlabel("step", fontsize=8)
    ax.set_yscale("log" if log else "linear")
    ax.set_title(title or f"{outcome.name}: {statistic}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig

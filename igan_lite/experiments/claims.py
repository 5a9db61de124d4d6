"""The results paragraph of README.md and notebook 06, written by code from the results csv, never by hand.

`igan-lite claims --readme README.md` rewrites README's block between the two CLAIMS markers;
tests/test_claims.py checks that the block equals what this module derives from the shipped csv.
"""
from __future__ import annotations

import re
from pathlib import Path

from igan_lite.experiments.grid import ABLATION_CATEGORIES, FULL_GRID, METRICS, VARIANTS
from igan_lite.experiments.results_table import (BASELINES, by_variant, compare, failed_to_learn, has, headline,
                                                 noise_margins, read_csv)

START, END = "<!-- CLAIMS:START", "<!-- CLAIMS:END -->"
BLOCK = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
LABELS = {v.key: v.label for v in VARIANTS}


def scores(records: list[dict]) -> tuple[str, ...]:
    """The scores claims are stated on, headline first: FID, KID, FD-lite (the fast score) and nearest IoU when
    the records have FID; FD-lite and nearest IoU otherwise (the smoke preset)."""
    return ("fid", "kid", "fd_lite", "nearest_iou") if headline(records) == "fid" else ("fd_lite", "nearest_iou")


def outcome(found: dict[str, list[dict]], metric: str, noise: float = 0.0) -> str | None:
    """IG-GAN against the projection baselines of one category: "win" (best mean, seed range apart from every
    baseline's), "loss" (a baseline's range wholly better), "tie" otherwise; "unscored" while a run lacks `metric`;
    None without IG-GAN or a baseline."""
    return combined(against_baselines(found, metric, noise))


def combined(pairs: dict[str, str]) -> str | None:
    """`outcome` from IG-GAN's verdict against each baseline (against_baselines)."""
    results = list(pairs.values())
    if not results:
        return None
    if "unscored" in results:
        return "unscored"
    if "open" in results:
        return "open"
    return "loss" if "loss" in results else "win" if all(x == "win" for x in results) else "tie"


def against_baselines(found: dict[str, list[dict]], metric: str, noise: float = 0.0) -> dict[str, str]:
    """results_table.compare of IG-GAN against each projection baseline present ({} without IG-GAN)."""
    if "iggan" not in found:
        return {}
    return {k: compare(found["iggan"], found[k], metric, noise) for k in BASELINES if k in found}


def against_the_paper(records: list[dict], metric: str = "fd_lite", noise: float = 0.0) -> str:
    """The paper's comparison (Lunz et al. 2020: IG-GAN has the best FID on every ShapeNet category it reports) beside
    what the table decides on `metric`, naming the baselines whose seed range is wholly better."""
    categories = sorted({r["category"] for r in records})
    per = {c: against_baselines(by_variant(records, c), metric, noise) for c in categories}
    per = {c: o for c, o in per.items() if o}
    unscored = [c for c, o in per.items() if "unscored" in o.values()]
    decided = {c: o for c, o in per.items() if c not in unscored}
    held = [c for c, o in decided.items() if all(x == "win" for x in o.values())]
    against = {c: [LABELS[k] for k, x in o.items() if x == "loss"] for c, o in decided.items()}
    against = {c: names for c, names in against.items() if names}
    open_ = [c for c, o in decided.items() if "open" in o.values() and c not in against]
    tied = [c for c in decided if c not in held and c not in against and c not in open_]
    parts = [f"reproduced on {len(held)} of {len(per)} categories" + (f" ({', '.join(held)})" if held else "")]
    parts += [f"contradicted on {c}, where {' and '.join(names)} {'is' if len(names) == 1 else 'are'} wholly better"
              for c, names in against.items()]
    parts += [f"a tie with at least one baseline on {', '.join(tied)}"] if tied else []
    parts += [f"undecided (under two seeds a side) on {', '.join(open_)}"] if open_ else []
    parts += [f"not yet scored on {', '.join(unscored)}"] if unscored else []
    return (f"- **Against the paper** (IG-GAN's FID is below every projection baseline's on every category it reports), on "
            f"{METRICS[metric]}: " + "; ".join(parts) + ".")


def _tally(outcomes: dict[str, str | None], words=("win", "tie", "loss", "open", "unscored")) -> str:
    scored = {c: o for c, o in outcomes.items() if o}
    parts = []
    for w in words:
        cats = [c for c, o in scored.items() if o == w]
        if w == "unscored" and not cats:
            continue
        parts.append(f"{_VERBS[w]} on {len(cats)}" + (f" ({', '.join(cats)})" if cats else ""))
    return f"of {len(scored)} categories, IG-GAN " + ", ".join(parts)


def outcomes(records: list[dict], metric: str, noise: dict) -> dict[str, str | None]:
    """IG-GAN against the baselines on every category, on `metric`."""
    return {c: outcome(by_variant(records, c), metric, noise.get(metric, 0.0)) for c in sorted({r["category"] for r in records})}


def comparison(records: list[dict], noise: dict) -> list[str]:
    return [f"- **{METRICS[m]}**: {_tally(outcomes(records, m, noise))}." for m in scores(records)]


def disagreement(records: list[dict], noise: dict) -> list[str]:
    """Where FD-lite's verdict differs from FID's, category by category (docs/experiments.md, "Two scores")."""
    if headline(records) != "fid":
        return []
    fid, lite = outcomes(records, "fid", noise), outcomes(records, "fd_lite", noise)
    both = [c for c in fid if fid[c] != "unscored"]
    differ = [f"{c} (FID: {_WORDS_BASELINE[fid[c]]}, FD-lite: {_WORDS_BASELINE[lite[c]]})" for c in both if fid[c] != lite[c]]
    return [f"- **FD-lite against FID**: the verdicts differ on {len(differ)} of the {len(both)} categories FID scores"
            + (": " + "; ".join(differ) if differ else "") + "."]


def ablation(records: list[dict], key: str, noise: dict) -> str:
    """The full recipe against one ablation on the ablation categories: "win" means the ablation hurts. A decided
    outcome is set beside the paper (Lunz et al. 2020 argue for DOM and for pretraining): agreeing, or plainly
    contradicting it."""
    parts, decided = [], {}
    for m in (headline(records), "nearest_iou"):
        per = {}
        for c in ABLATION_CATEGORIES:
            found = by_variant(records, c)
            if "iggan" in found and key in found:
                per[c] = compare(found["iggan"], found[key], m, noise.get(m, 0.0))
        decided.update({f"{METRICS[m]} on {c}": o for c, o in per.items() if o not in ("open", "unscored")})
        parts.append(f"{METRICS[m]} " + (", ".join(f"{c}: {_WORDS[o]}" for c, o in per.items()) or "no runs"))
    helped = [where for where, o in decided.items() if o == "loss"]
    hurt = [where for where, o in decided.items() if o == "win"]
    verdict = (" No measurable effect at this scale: every seed range overlaps, where the paper argues for it."
               if decided and not helped and not hurt else "")
    verdict += f" The ablation is better ({', '.join(helped)}): this contradicts the paper." if helped else ""
    verdict += f" The full recipe is better ({', '.join(hurt)}), as the paper argues." if hurt else ""
    return f"- **{LABELS[key]}** against the full recipe: " + "; ".join(parts) + "." + verdict


_VERBS = {"win": "wins", "tie": "ties", "loss": "loses", "open": "is undecided (under two seeds a side)",
          "unscored": "is not yet scored (a run lacks the score)"}
_WORDS_BASELINE = {"win": "IG-GAN wins", "tie": "a tie", "loss": "IG-GAN loses", "open": "undecided", None: "no comparison"}
_WORDS = {"win": "the full recipe better", "loss": "the ablation better", "tie": "tie", "open": "undecided (under two seeds)",
          "unscored": "not yet scored"}


def collapses(records: list[dict], references: list[dict]) -> str:
    failed, counts = failed_to_learn(records, references), []
    score = METRICS[headline(records)].split(" ")[0]
    for v in VARIANTS:
        rows = [r for r in records if r["variant"] == v.key]
        if rows:
            counts.append(f"{v.label} {sum(bool(r['collapsed']) for r in rows)} and "
                          f"{sum(r['run'] in failed for r in rows)} of {len(rows)}")
    return (f"- **Collapsed and failed runs** (`diagnostics.collapsed`; {score} above random boxes', "
            "`results_table.failed_to_learn`; all counted in every mean): " + "; ".join(counts) + ".")


def as_named(csv_path: str | Path) -> str:
    """A results csv named as the repository holds it (figures/NAME), whichever folder it is read from."""
    csv_path = Path(csv_path)
    return f"figures/{csv_path.name}" if csv_path.parent.name == "figures" else csv_path.as_posix()


def noise_file(csv_path: str | Path, preset: str) -> Path:
    """The evaluation-noise file beside a results csv (scripts/evaluation_noise.py writes it)."""
    return Path(csv_path).with_name(f"evaluation_noise_{preset}.json")


def rule(noise: dict, metrics) -> str:
    """The win rule in words, with the noise margins in force."""
    margins = ", ".join(f"{METRICS[m].rstrip(' ↑↓')} {noise[m]:.1%}" for m in metrics if noise.get(m))
    if not margins:
        return "A win needs seed ranges that do not overlap; overlapping ranges are a tie; under two seeds a side nothing is decided."
    return (f"A win needs seed ranges apart by more than re-scoring one run with new samples moves it ({margins} of "
            "the value); closer ranges are a tie; under two seeds a side nothing is decided.")


def claims_markdown(csv_path: str | Path) -> str:
    """The claims block for README.md, from the results csv at `csv_path` (and the evaluation-noise file beside it)."""
    records, references = read_csv(csv_path)
    have = {(r["variant"], r["category"], int(r["seed"])) for r in records}
    wanted = {(v.key, c, s) for v, c, s in FULL_GRID}
    p = records[0]
    noise = noise_margins(noise_file(csv_path, p["preset"]))
    lead = headline(records)
    lines = [f"{START} (written by `igan-lite claims` from `{as_named(csv_path)}`; do not edit) -->",
             f"Preset `{p['preset']}`, {int(p['steps'])} steps, scored on the test split (n = {int(p['n'])}); "
             f"{len(have & wanted)} of the full grid's {len(wanted)} runs are in the table. {rule(noise, scores(records))}", "",
             *comparison(records, noise), against_the_paper(records, lead, noise.get(lead, 0.0)),
             *disagreement(records, noise), *(ablation(records, v.key, noise) for v in VARIANTS if v.ablation),
             collapses(records, references), END]
    return "\n".join(lines)


STATUS = re.compile(r"<!-- STATUS:START.*?<!-- STATUS:END -->", re.S)


def status_markdown(csv_path: str | Path) -> str:
    """README's Status sentence on the comparison, from the same csv: how much of the grid it holds, by which score."""
    records, _ = read_csv(csv_path)
    have = {(r["variant"], r["category"], int(r["seed"])) for r in records}
    wanted = {(v.key, c, s) for v, c, s in FULL_GRID}
    lead = headline(records)
    with_fid = sum(has([r], "fid") for r in records)
    score = ("Inception FID (and KID)" if with_fid == len(records) else
             f"Inception FID (and KID) for {with_fid} of them so far, FD-lite for all" if lead == "fid" else "FD-lite (not Inception FID)")
    missing = len(wanted - have)
    text = (f"the comparison with the projection baselines and the ablations, {len(have & wanted)} of the grid's "
            f"{len(wanted)} runs (five categories, three seeds each; {int(records[0]['steps'])} steps), scored by {score} "
            "on held-out test shapes" + (f"; {missing} runs are still missing (`figures/results_lite.md` lists them)" if missing else ""))
    return f"<!-- STATUS:START (written by `igan-lite claims`; do not edit) -->{text}<!-- STATUS:END -->"


def update_readme(readme: str | Path, csv_path: str | Path) -> None:
    """Replace README's claims block and status sentence (between their markers) with what the csv says."""
    replace_blocks(readme, {(BLOCK, START): lambda: claims_markdown(csv_path),
                            (STATUS, "<!-- STATUS:START"): lambda: status_markdown(csv_path)})


def replace_blocks(doc: str | Path, blocks: dict) -> None:
    """Replace each generated block of DOC, {(pattern, start marker): its writer}, after checking all are there."""
    doc = Path(doc)
    text = doc.read_text()
    for pattern, start in blocks:
        if not pattern.search(text):
            raise ValueError(f"{doc} has no {start[5:-6].lower()} block: add the markers '{start} -->' ... where it goes")
    for (pattern, _), write in blocks.items():
        text = pattern.sub(lambda _: write(), text)
    doc.write_text(text)


def readme_block(readme: str | Path, pattern: re.Pattern = BLOCK) -> str:
    match = pattern.search(Path(readme).read_text())
    return match.group(0) if match else ""

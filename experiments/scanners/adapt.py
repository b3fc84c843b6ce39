"""Does adapting the shipped U-Net from a scanner's raw volumes (no averages) put it ahead of
BM3D on scanners it never saw? The three scanners of intensity.py, the same subject folds.

    python experiments/scanners/adapt.py build OUT          # OUT/<scanner>/{duke,volumes}, 1 min
    python experiments/scanners/adapt.py table RUNS         # adapt.md, adapt_per_image.csv from RUNS/<scanner>/
    bash experiments/scanners/run_adapt.sh                  # both, and the adaptation runs between them

Each scanner's folder holds what its device would hand a user: every subject's five noisy
frames as one 16-bit, 8-bit or float volume (`volumes/`, in the order they lie in the eye),
and the Duke layout of the same frames and averages stored alike (`duke/`), which only the
scoring reads. The adapted row is `python -m octsr.train data=volumes experiment=adapt` on the
train and val subjects' volumes of each fold (it reads no average: its checkpoint is picked by
the neighbour loss on the val volumes), trained through each volume's intensity transform
(`data.intensity=auto`, the default), then scored by octsr.crossval on the fold's test scans
against the stored averages. The other rows (the shipped weights, BM3D on the stored values
and after the transform, its noise level chosen per fold on the val scans) are read from
intensity_per_image.csv: the same scans, scored the same way.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from statistics import fmean

HERE = Path(__file__).resolve().parent
from intensity import SCANNERS, chosen_rows
from second_scanner import write_scanner

DUKE = HERE.parents[1] / ".." / "shared" / "data" / "duke-bioptigen"
METRICS = ("psnr", "ssim", "gmsd", "psnr_matched")
# run_adapt.sh's crossval rows -> their label here
ADAPTED_ROWS = {"adapted": "adapted (experiment=adapt)",
                "adapted_both": "adapted, both neighbours (data.neighbours=both)"}


def build(out: Path, root: Path) -> None:
    for scanner, store in SCANNERS.items():
        write_scanner(root.resolve(), out / scanner, store)
        print(f"wrote {out / scanner / 'duke'} and {out / scanner / 'volumes'}")


def read_rows(path: Path, **extra: str) -> list[dict]:
    with path.open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row.update(extra)
        for key in (*METRICS, "seconds", "sigma"):
            if key in row:
                row[key] = float(row[key]) if row[key] not in ("", None) else None
    return rows


def table(runs: Path) -> list[str]:
    shipped = read_rows(HERE / "intensity_per_image.csv")
    subjects = sorted({r["subject"] for r in shipped})
    lines = []
    summary = ["| scanner | adapted | the better BM3D | adapted vs it: PSNR (dB), SSIM | shipped, `intensity=auto` vs it (dB) | "
               "subjects where adapted is ahead | train min / fold |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for scanner in SCANNERS:
        scored, chosen = chosen_rows(shipped, subjects, scanner)
        adapted = read_rows(runs / scanner / "per_image.csv")
        for row, label in ADAPTED_ROWS.items():
            scored[label] = [r for r in adapted if r["row"] == row]
        with (runs / scanner / "crossval.csv").open() as f:
            minutes = {ADAPTED_ROWS.get(r["row"], r["row"]): float(r["train_minutes"])
                       for r in csv.DictReader(f) if r.get("train_minutes")}
        mean = {method: {m: fmean(r[m] for r in found) for m in METRICS} for method, found in scored.items() if found}
        better = max(("BM3D, stored", "BM3D, transformed"), key=lambda m: mean[m]["psnr"])
        lines += [f"### {scanner}", "",
                  "| method | PSNR (dB) | SSIM | GMSD | PSNR, brightness matched | vs the better BM3D (dB) | "
                  "train min / fold |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for method, score in mean.items():
            label = f"{method} (sigma {', '.join(map(str, chosen[method]))} by fold)" if method in chosen else method
            trained = f"{minutes[method]:.1f}" if method in minutes else "–"
            lines.append(f"| {label} | {score['psnr']:.2f} | {score['ssim']:.4f} | {score['gmsd']:.4f} | "
                         f"{score['psnr_matched']:.2f} | {score['psnr'] - mean[better]['psnr']:+.2f} | {trained} |")
        lines.append("")
        reference = {r["subject"]: r["psnr"] for r in scored[better]}
        adapted_label = ADAPTED_ROWS["adapted"]
        ahead = sum(r["psnr"] > reference[r["subject"]] for r in scored[adapted_label])
        a, b = mean[adapted_label], mean[better]
        summary.append(f"| `{scanner}` | {a['psnr']:.2f} / {a['ssim']:.4f} | {b['psnr']:.2f} / {b['ssim']:.4f} "
                       f"({better.split(', ')[1]}) | {a['psnr'] - b['psnr']:+.2f}, {a['ssim'] - b['ssim']:+.4f} | "
                       f"{mean['shipped, intensity=auto']['psnr'] - b['psnr']:+.2f} | {ahead} of {len(reference)} | "
                       f"{minutes.get(adapted_label, float('nan')):.1f} |")
    return [*summary, "", *lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    built = sub.add_parser("build", help="write each scanner's volumes and Duke layout")
    built.add_argument("out", type=Path)
    built.add_argument("--root", type=Path, default=DUKE)
    tabled = sub.add_parser("table", help="adapt.md from finished crossval folders RUNS/<scanner>")
    tabled.add_argument("runs", type=Path)
    tabled.add_argument("--header", default="", help="a line that says how the runs were made")
    args = parser.parse_args()
    if args.step == "build":
        build(args.out, args.root)
        return
    lines = ["# The shipped U-Net adapted to three scanners from their raw volumes, against BM3D", "",
             args.header, "", *table(args.runs)]
    (HERE / "adapt.md").write_text("\n".join(lines) + "\n")
    # Every adapted row's score on every test scan, beside intensity_per_image.csv's rows.
    rows = [{"scanner": scanner, **row} for scanner in SCANNERS
            for row in read_rows(args.runs / scanner / "per_image.csv")]
    with (HERE / "adapt_per_image.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print("\n".join(lines))


if __name__ == "__main__":
    main()

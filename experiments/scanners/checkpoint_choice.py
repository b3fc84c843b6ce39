"""How well a row's checkpoint criterion picks, measured against what the averages say.

    python experiments/scanners/checkpoint_choice.py logs/crossval/scanners target_free
    python experiments/scanners/checkpoint_choice.py logs/crossval/scanners unet_n2n

For each fold of a cross-validation row, the checkpoint its val criterion picked (the
neighbour loss on val volumes for a row trained on volumes; PSNR against the val subjects'
averages for the others) and the run's last checkpoint are both scored against the
averages: on the fold's val subjects (the choice the averages would have made between the
two) and on its test subjects (what the choice is worth). Writes checkpoint_choice_<row>.md
beside this script.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from statistics import fmean

from octsr.data.pairs import DukePairs
from octsr.inference import load_restorer
from octsr.scoring import score_method
from octsr.utils.machine import machine

NO_BAR = type("NoBar", (), {"update": lambda self, n=1: None, "set_postfix_str": lambda self, s: None})()
DUKE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "duke-bioptigen"


def step(checkpoint: Path) -> int:
    found = re.search(r"step(\d+)", checkpoint.name)
    return int(found.group(1)) if found else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("row")
    parser.add_argument("--root", type=Path, default=DUKE)
    args = parser.parse_args()
    lines = ["| fold | its val criterion picked | val PSNR vs averages: picked / last | test PSNR vs averages: picked / last |",
             "| --- | --- | --- | --- |"]
    gains = []
    for fold in sorted((args.run / args.row).glob("fold*")):
        result = json.loads((fold / "fold_result.json").read_text())
        splits = result["splits"]
        pairs = DukePairs(args.root.resolve(), [], splits["val"], splits["test"]).splits()
        images = {split: [(p.name, *p.load()) for p in pairs[split]] for split in ("val", "test")}
        picked, last = Path(result["checkpoint"]), fold / "checkpoints" / "last.ckpt"
        scores = {}
        for name, checkpoint in (("picked", picked), ("last", last)):
            restorer = load_restorer({"ckpt_path": str(checkpoint)})
            scores[name] = {split: fmean(r["psnr"] for r in score_method(restorer, images[split], name, NO_BAR))
                            for split in images}
        gains.append(scores["picked"]["test"] - scores["last"]["test"])
        lines.append(f"| {fold.name} | step {step(picked)} of 4500 | {scores['picked']['val']:.2f} / "
                     f"{scores['last']['val']:.2f} | {scores['picked']['test']:.2f} / {scores['last']['test']:.2f} |")
    text = "\n".join(lines + ["", f"Test PSNR of the picked checkpoint minus the last one, mean over folds: "
                              f"{fmean(gains):+.3f} dB.", f"Machine: {machine()}.",
                              f"Command: `python experiments/scanners/checkpoint_choice.py {args.run} {args.row}`"]) + "\n"
    (Path(__file__).with_name(f"checkpoint_choice_{args.row}.md")).write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""`python -m octsr.phantom OUT` (the `octsr-phantom` command): the synthetic phantom's pairs
written as PNGs in the layout `data=folder` reads (conf/phantom.yaml)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from octsr.data.phantom import write_phantom_folder
from octsr.settings import PhantomSettings, check_settings
from octsr.utils.cli import command


def write_phantom(cfg: DictConfig) -> None:
    check_settings(cfg, PhantomSettings)
    pairs, out = cfg.data.phantom, Path(cfg.out)
    write_phantom_folder(out, pairs.count, pairs.height, pairs.width, pairs.averaged_frames, pairs.seed)
    print(f"wrote {pairs.count} pairs to {out / 'noisy'} and {out / 'clean'}")


cli = command("phantom", write_phantom, positional="out", many=False)


if __name__ == "__main__":
    cli()

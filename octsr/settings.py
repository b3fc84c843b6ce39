"""Typed schemas of the settings users type, checked before any data is loaded.

Hydra composes every entry point's config from YAML and the command line, where
`optim.lr=abc` or `tile=0` arrive as they were typed. Each entry point checks its config
against the dataclass below first, so a wrong type or range ends in one line that names the
key (`octsr: error: optim.lr=abc: expected a number > 0`), not in a traceback minutes later.

A schema lists only what a user sets by hand; the rest of the config passes unchecked, and
a key a config does not have (e.g. `data.frames` with `data=phantom`) is skipped.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union, get_args, get_origin, get_type_hints

from omegaconf import DictConfig, ListConfig, OmegaConf

from octsr.errors import ConfigError
from octsr.weights import SHIPPED

ShippedName = Literal[tuple(SHIPPED)]  # type: ignore[valid-type]  (best, fast, ...)

DEVICE_PATTERN = r"auto|cpu|cuda(:\d+)?|mps"


def at_least(low: float, default: Any = None) -> Any:
    return field(default=default, metadata={"low": low})


def above(low: float, default: Any = None) -> Any:
    return field(default=default, metadata={"low": low, "open": True})


def within(low: float, high: float, default: Any = None, high_open: bool = False, **more: Any) -> Any:
    return field(default=default, metadata={"low": low, "high": high, "high_open": high_open, **more})


def matching(pattern: str, default: Any = None, shows: str = "a non-empty path") -> Any:
    return field(default=default, metadata={"pattern": pattern, "shows": shows})


# --- octsr.train ---------------------------------------------------------------------------

@dataclass
class OptimSettings:
    lr: float = above(0)
    weight_decay: float = at_least(0)
    betas: list[float] = field(default_factory=list, metadata={"low": 0, "high": 1, "high_open": True,
                                                               "min_items": 2, "max_items": 2})


@dataclass
class NetSettings:
    width: int = at_least(1)
    depth: int = at_least(1)
    batch_norm: bool = True
    convs_per_level: int = at_least(1)
    kernel_size: int = at_least(1)
    kernel_sizes: list[int] = field(default_factory=list, metadata={"low": 1, "min_items": 1})


@dataclass
class ModelSettings:
    residual: bool = False
    match_input_mean: bool = False
    net: NetSettings = field(default_factory=NetSettings)


@dataclass
class LossSettings:
    eps: float = above(0)
    alpha: float = within(0, 1)
    weight: float = at_least(0)


@dataclass
class SchedulerSettings:
    T_max: Optional[int] = at_least(1)
    eta_min: float = at_least(0)


# The affine variants a train crop or val image is kept as (octsr.data.protocol.VARIANTS).
Variant = Literal["identity", "hflip", "vflip", "rot90_left", "rot90_right"]


@dataclass
class ProtocolSettings:
    crop_size: int = at_least(1)
    crops_per_image: int = at_least(0)
    patch_size: int = at_least(1)
    patch_stride: int = at_least(1)
    train_variants: list[Variant] = field(default_factory=list, metadata={"min_items": 1})
    val_variants: list[Variant] = field(default_factory=list, metadata={"min_items": 1})

    @staticmethod
    def check_together(cfg: DictConfig, prefix: str) -> None:
        if cfg.get("crops_per_image") and cfg.get("patch_size", 0) > cfg.get("crop_size", 0):
            raise ConfigError(f"{prefix}patch_size={cfg.patch_size} is larger than crop_size={cfg.crop_size}")


@dataclass
class DataSettings:
    frames: Literal["one", "all"] = "one"
    train_target: Literal["average", "next_frame", "nearest_frame", "registered_frame", "teacher"] = "average"
    teacher_dir: Optional[str] = None
    batch_size: int = at_least(1)
    num_workers: int = at_least(0)
    memory_budget_mb: float = at_least(0)
    input_frames: int = at_least(1, 1)
    scored_bscans: int = at_least(1, 8)
    neighbours: Literal["next", "both"] = "next"
    register: bool = False
    intensity: Literal["auto", "stored", "log", "linear", "root"] = "auto"
    scanner_copies: int = at_least(0, 0)
    protocol: ProtocolSettings = field(default_factory=ProtocolSettings)

    @staticmethod
    def check_together(cfg: DictConfig, prefix: str) -> None:
        """The frame options that only go together (a layout without one skips its rule)."""
        target, teacher = cfg.get("train_target"), cfg.get("teacher_dir")
        if target is not None and (target == "teacher") != (teacher is not None):
            raise ConfigError(f"{prefix}train_target=teacher trains towards a teacher's outputs: give their folder "
                              f"as {prefix}teacher_dir (written by `octsr.enhance input=<{prefix}root> "
                              f"output=<teacher_dir>`)" if teacher is None else
                              f"{prefix}teacher_dir={teacher} is only read with {prefix}train_target=teacher")
        stacked = cfg.get("input_frames", 1)
        if stacked > 1 and (cfg.get("frames", "one") != "one" or cfg.get("train_target", "average") != "average"):
            raise ConfigError(f"{prefix}input_frames={stacked} stacks a scan's frames into one input; it goes "
                              f"with {prefix}frames=one and {prefix}train_target=average")


@dataclass
class TrainerSettings:
    max_epochs: Optional[int] = at_least(-1)
    max_steps: Optional[int] = at_least(-1)
    check_val_every_n_epoch: Optional[int] = at_least(1)
    log_every_n_steps: int = at_least(1)


@dataclass
class CheckpointSettings:
    last_every_n_steps: Optional[int] = at_least(1)


@dataclass
class CallbackSettings:
    model_checkpoint: CheckpointSettings = field(default_factory=CheckpointSettings)


@dataclass
class TrainSettings:
    seed: Optional[int] = None
    threads: Optional[int] = at_least(1)
    train: bool = True
    test: bool = True
    ckpt_path: Optional[str] = None
    init_from: Optional[str] = None
    optim: OptimSettings = field(default_factory=OptimSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    loss: LossSettings = field(default_factory=LossSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    data: DataSettings = field(default_factory=DataSettings)
    trainer: TrainerSettings = field(default_factory=TrainerSettings)
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)


# --- inference entry points ----------------------------------------------------------------

@dataclass
class InferenceSettings:
    ckpt_path: Optional[str] = None
    weights: ShippedName = "best"
    device: str = matching(DEVICE_PATTERN, "auto", shows="one of auto, cpu, cuda, cuda:N, mps")
    tile: Optional[int] = at_least(1)
    halo: Optional[int] = at_least(0)
    tta: Optional[bool] = None
    precision: Literal["auto", "fp32", "bf16"] = "fp32"
    intensity: Literal["auto", "stored", "log", "linear", "root"] = "auto"


@dataclass
class EnhanceSettings(InferenceSettings):
    input: str = matching(r".+")
    output: str = matching(r".+")
    batch_size: int = at_least(1, 1)
    on_error: Literal["stop", "skip"] = "stop"
    anonymize: bool = False
    output_format: Literal["auto", "tiff", "dicom"] = "auto"
    overwrite: bool = False


@dataclass
class BM3DSettings:
    enabled: bool = True
    sigmas: list[float] = field(default_factory=list, metadata={"low": 0, "open": True, "min_items": 1})
    val_images: int = at_least(1)


@dataclass
class EvaluateSettings(InferenceSettings):
    seed: Optional[int] = None
    data: DataSettings = field(default_factory=DataSettings)
    bm3d: BM3DSettings = field(default_factory=BM3DSettings)
    overwrite: bool = False


@dataclass
class ReportSettings:
    runs: list[str] = field(default_factory=list, metadata={"min_items": 1})
    out: Optional[str] = None
    panel: bool = True
    overwrite: bool = False


@dataclass
class PhantomSettings:
    out: str = matching(r".+")


@dataclass
class ExportSettings:
    ckpt_path: Optional[str] = None
    weights: ShippedName = "best"
    output: str = matching(r".+")
    format: Literal["all", "torchscript", "onnx", "weights"] = "all"
    opset: int = at_least(7)
    overwrite: bool = False


@dataclass
class CrossvalSettings:
    data_root: str = matching(r".+")
    folds: int = at_least(2)
    val_subjects: int = at_least(1)
    seed: int = 0
    launcher: Literal["local_parallel", "slurm", "basic"] = "local_parallel"
    launcher_overrides: str = ""
    jobs: int = at_least(1)
    shipped: list[ShippedName] = field(default_factory=list)
    tta: bool = False
    reuse: list[str] = field(default_factory=list)
    bm3d: BM3DSettings = field(default_factory=BM3DSettings)


# --- the check -----------------------------------------------------------------------------

_ABSENT = object()


def check_settings(cfg: DictConfig, schema: type) -> None:
    """Raise ConfigError naming the first key of `cfg` that does not fit `schema`."""
    _check_fields(cfg, schema, prefix="")


def _check_fields(cfg: DictConfig, schema: type, prefix: str) -> None:
    hints = get_type_hints(schema)
    for spec in dataclasses.fields(schema):
        key = f"{prefix}{spec.name}"
        if OmegaConf.is_missing(cfg, spec.name):
            raise ConfigError(f"{key} is required: add {key}=<value> to the command")
        try:
            value = OmegaConf.select(cfg, spec.name, default=_ABSENT, throw_on_missing=False)
        except Exception as err:  # an interpolation that cannot resolve
            raise ConfigError(f"{key}: {' '.join(str(err).split())}") from err
        if value is _ABSENT:
            continue
        _check_value(key, value, hints[spec.name], spec.metadata)
    # Rules between a group's settings, once each of them fits on its own.
    check_together = getattr(schema, "check_together", None)
    if check_together is not None:
        check_together(cfg, prefix)


def _check_value(key: str, value: Any, hint: Any, meta: Any) -> None:
    if get_origin(hint) is Union:  # Optional[X]
        if value is None:
            return
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
        optional = " or null"
    else:
        optional = ""
    if dataclasses.is_dataclass(hint):
        if value is None:  # a group switched off (e.g. callbacks.model_checkpoint=null)
            return
        if not isinstance(value, DictConfig):
            raise ConfigError(f"{key}={_show(value)}: expected a group of settings")
        _check_fields(value, hint, prefix=f"{key}.")
        return
    if get_origin(hint) is Literal:
        if value not in get_args(hint):
            raise ConfigError(f"{key}={_show(value)}: expected one of {', '.join(map(str, get_args(hint)))}"
                              + optional)
        return
    if get_origin(hint) is list:
        (item,) = get_args(hint)
        low, high = meta.get("min_items", 0), meta.get("max_items")
        if not isinstance(value, (ListConfig, list)) or not low <= len(value) <= (high or len(value)):
            count = f"{low}" if high == low else f"at least {low}" if high is None else f"{low} to {high}"
            raise ConfigError(f"{key}={_show(value)}: expected a list of {count} item(s), each "
                              f"{_describe(item, meta)}")
        for i, element in enumerate(value):
            _check_value(f"{key}[{i}]", element, item, meta)
        return
    if not _fits(value, hint, meta):
        raise ConfigError(f"{key}={_show(value)}: expected {_describe(hint, meta)}{optional}")


def _fits(value: Any, hint: type, meta: Any) -> bool:
    if hint is bool:
        return isinstance(value, bool)
    if hint is str:
        return isinstance(value, str) and re.fullmatch(meta.get("pattern", r"(?s).*"), value) is not None
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        return False
    if hint is float and (isinstance(value, bool) or not isinstance(value, (int, float))
                          or not math.isfinite(value)):
        return False
    low, high = meta.get("low"), meta.get("high")
    if low is not None and not (value > low if meta.get("open") else value >= low):
        return False
    return high is None or (value < high if meta.get("high_open") else value <= high)


def _describe(hint: type, meta: Any) -> str:
    if get_origin(hint) is Literal:
        return f"one of {', '.join(map(str, get_args(hint)))}"
    if hint is bool:
        return "true or false"
    if hint is str:
        return meta.get("shows", "a string")
    noun = {int: "a whole number", float: "a finite number"}[hint]
    low, high = meta.get("low"), meta.get("high")
    if low is None:
        return noun
    if high is not None:
        return (f"{noun} in {'(' if meta.get('open') else '['}{low:g}, {high:g}"
                f"{')' if meta.get('high_open') else ']'}")
    return f"{noun} {'>' if meta.get('open') else '≥'} {low:g}"


def _show(value: Any) -> str:
    if isinstance(value, (DictConfig, ListConfig)):
        return str(OmegaConf.to_container(value))
    return "" if value is None else str(value)

"""Section 4, inference: ms and GFLOP/s per 450x900 B-scan in each precision, enhance against
BM3D, a long volume's memory, and the output record's cost."""

from __future__ import annotations

import copy
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import octsr  # noqa: F401  (allocator settings, as every entry point gets them)
import torch
from octsr.utils.timing import warm_ms

from bench_common import DUKE, Mode, Table, matmul_gflops, run_child


# -- 4. inference ----------------------------------------------------------------------------------
def bscan(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, str]:
    """The top-left `shape` of a real Duke B-scan (450x900) and its target where available,
    else of a phantom one."""
    h, w = shape
    if (DUKE / "01" / "test.tif").is_file():
        from octsr.formats.images import read_grayscale

        noisy, target = (read_grayscale(DUKE / "01" / name) for name in ("test.tif", "average.tif"))
        return noisy[:h, :w].copy(), target[:h, :w].copy(), "Duke 01"
    from octsr.data.phantom import PhantomPair

    noisy, target = PhantomPair("bench", 0, 0, h + 20, w + 20, 8).load()
    return noisy[:h, :w].copy(), target[:h, :w].copy(), "phantom"


def psnr_db(output: np.ndarray, target: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((output.astype(np.float64) - target) ** 2)))


def bench_inference(table: Table, mode: Mode, out: Path) -> None:
    from octsr.models.checkpoint import load_model
    from octsr.models.components.image_conv import ImageConv2d
    from octsr.models.components.unet import UNet
    from octsr.models.restoration_module import RestorationModule
    from octsr.weights import shipped_weights
    from torch.utils.flop_counter import FlopCounterMode

    noisy, target, name = bscan(mode.scan)
    size = f"{noisy.shape[0]}x{noisy.shape[1]}"
    x = torch.from_numpy(noisy)[None, None]
    reference_gflops = matmul_gflops(mode.repeats)
    shipped = load_model(shipped_weights("fast"))
    unet = RestorationModule(UNet(width=16), optimizer=None, log_images=False).eval()
    command = "python experiments/speed/bench.py (section inference)"
    for label, model in (("SRCNN (shipped weights)", shipped), ("U-Net width 16 (random weights)", unet)):
        with FlopCounterMode(display=False) as counter:
            with torch.inference_mode():
                model.restore_patches(x)
        gflop = counter.get_total_flops() / 1e9
        with torch.inference_mode():
            ms = warm_ms(lambda: model(x), mode.repeats)
            fast = model(x)[0, 0].numpy()
            net_plain = copy.deepcopy(model.net).to(memory_format=torch.contiguous_format)
            for layer in net_plain.modules():  # the last layer as nn.Conv2d computes it
                if isinstance(layer, ImageConv2d):
                    layer.__class__ = torch.nn.Conv2d
            plain = lambda: torch.sigmoid(net_plain((x - model.input_mean) / model.input_std))  # noqa: E731
            plain_ms = warm_ms(plain, mode.repeats)
            plain_out = plain()[0, 0].numpy()
        achieved = gflop / (ms / 1000)
        target_ratio = 0.5 if "SRCNN" in label else None
        ratio = achieved / reference_gflops
        table.add("4 inference", f"{label}: one {size} B-scan ({name}), {gflop:.2f} GFLOP, "
                  "RestorationModule.forward (channels_last"
                  f"{', last layer as taps' if any(isinstance(m, ImageConv2d) for m in model.modules()) else ''})",
                  f"{ms:.1f} ms = {achieved:.1f} GFLOP/s",
                  f"fp32 matmul {reference_gflops:.0f} GFLOP/s", ratio,
                  ">= 0.5 of matmul" if target_ratio else "", ratio >= target_ratio if target_ratio else None, command)
        table.add("4 inference", f"{label}: same net in plain PyTorch (contiguous layout, nn.Conv2d); "
                  f"max |diff| to the above {np.abs(plain_out - fast).max():.1e}",
                  f"{plain_ms:.1f} ms", f"forward {ms:.1f} ms", plain_ms / ms,
                  "(speed-up)", None, command)
        if "SRCNN" not in label:
            continue
        # What else was tried, kept only if within 0.05 dB of fp32.
        base_db = psnr_db(fast, target)
        with torch.inference_mode():
            bf16 = copy.deepcopy(model).to(torch.bfloat16)
            xb = x.to(torch.bfloat16)
            bf16_ms = warm_ms(lambda: bf16(xb), mode.repeats)
            bf16_db = psnr_db(bf16(xb)[0, 0].float().numpy(), target)
        table.add("4 inference", "SRCNN in bfloat16 (avx512_bf16 CPU); PSNR vs fp32 "
                  f"{bf16_db - base_db:+.3f} dB", f"{bf16_ms:.1f} ms", f"fp32 {ms:.1f} ms", bf16_ms / ms,
                  "faster and within 0.05 dB to keep", bf16_ms < ms and abs(bf16_db - base_db) <= 0.05, command)
        try:
            import onnxruntime as ort

            onnx_path = out / "runs" / "srcnn.onnx"
            onnx_path.parent.mkdir(parents=True, exist_ok=True)
            torch.onnx.export(_Wrapped(model), (x,), str(onnx_path), input_names=["noisy"],
                              dynamic_axes={"noisy": {2: "h", 3: "w"}}, dynamo=False)
            session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
            feed = {"noisy": noisy[None, None]}
            ort_ms = warm_ms(lambda: session.run(None, feed), mode.repeats)
            ort_db = psnr_db(session.run(None, feed)[0][0, 0], target)
            table.add("4 inference", f"SRCNN in ONNX Runtime, whole image; PSNR vs fp32 {ort_db - base_db:+.3f} dB",
                      f"{ort_ms:.1f} ms", f"forward {ms:.1f} ms", ort_ms / ms, "faster to keep", ort_ms < ms, command)
        except Exception as err:  # noqa: BLE001  (a missing optional runtime is a row, not a crash)
            table.add("4 inference", "SRCNN in ONNX Runtime", f"not measured: {err}"[:120])
    bench_precision(table, mode, out, x, target, name)
    bench_enhance(table, mode, out, noisy, name)


def bench_precision(table: Table, mode: Mode, out: Path, x: torch.Tensor, target: np.ndarray, name: str) -> None:
    """Each shipped model in float32 and in bfloat16 (`precision=bf16`: autocast, the output
    step in float32) on one B-scan, through the path enhance takes; and the U-Net in ONNX
    Runtime."""
    from octsr.inference import load_restorer
    from octsr.inference.precision import native_bf16

    command = "python experiments/speed/bench.py --sections inference"
    size = f"{x.shape[-2]}x{x.shape[-1]}"
    noisy = x[0, 0].numpy()
    for weights in ("best", "fast"):
        restorer = load_restorer({"weights": weights, "precision": "fp32"})
        label = f"weights={weights} ({type(restorer.model.net).__name__})"
        fp32_ms = warm_ms(lambda: restorer(noisy), mode.repeats)
        fp32_db = psnr_db(restorer(noisy), target)
        restorer.precision = "bf16"
        bf16_ms = warm_ms(lambda: restorer(noisy), mode.repeats)
        bf16_db = psnr_db(restorer(noisy), target)
        table.add("4 inference", f"{label} in bfloat16 ({'native' if native_bf16() else 'emulated'} on this CPU), "
                  f"one {size} B-scan ({name}); PSNR vs fp32 {bf16_db - fp32_db:+.3f} dB", f"{bf16_ms:.1f} ms",
                  f"fp32 {fp32_ms:.1f} ms", bf16_ms / fp32_ms, "faster and within 0.05 dB: precision=auto takes it",
                  bf16_ms < fp32_ms and abs(bf16_db - fp32_db) <= 0.05, command)
        if weights != "best":
            continue
        try:
            import onnxruntime as ort

            onnx_path = out / "runs" / "unet.onnx"
            onnx_path.parent.mkdir(parents=True, exist_ok=True)
            torch.onnx.export(restorer.model, (x,), str(onnx_path), input_names=["noisy"],
                              dynamic_axes={"noisy": {2: "h", 3: "w"}}, dynamo=False)
            session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
            feed = {"noisy": x.numpy()}
            ort_ms = warm_ms(lambda: session.run(None, feed), mode.repeats)
            ort_db = psnr_db(session.run(None, feed)[0][0, 0], target)
            table.add("4 inference", f"{label} in ONNX Runtime, whole image; PSNR vs fp32 {ort_db - fp32_db:+.3f} dB",
                      f"{ort_ms:.1f} ms", f"fp32 {fp32_ms:.1f} ms", ort_ms / fp32_ms, "faster to keep",
                      ort_ms < fp32_ms, command)
        except Exception as err:  # noqa: BLE001  (a missing optional runtime is a row, not a crash)
            table.add("4 inference", f"{label} in ONNX Runtime", f"not measured: {err}"[:120])


class _Wrapped(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.restore_patches(x)


def enhance_marginal_s(noisy: np.ndarray, pages: int, *overrides: str) -> float:
    """octsr.enhance's seconds per B-scan: a volume of `pages` copies of `noisy` minus one
    of a single page (so startup and model loading drop out)."""
    from octsr.formats.images import write_pages

    folder = Path(tempfile.mkdtemp(prefix="octsr-bench-"))
    scan8 = np.round(noisy * 255).astype(np.uint8)
    (folder / "in").mkdir()
    times = {}
    for count in (1, pages):
        write_pages(folder / "in" / f"volume{count}.tif", [scan8] * count)
        args = [sys.executable, "-m", "octsr.enhance", f"input={folder / 'in' / f'volume{count}.tif'}",
                f"output={folder / 'out'}", *overrides]
        _, _, tail = run_child(args)
        times[count] = float(re.search(r"in ([\d.]+) s", tail).group(1))
    shutil.rmtree(folder, ignore_errors=True)
    return (times[pages] - times[1]) / (pages - 1)


def bench_enhance(table: Table, mode: Mode, out: Path, noisy: np.ndarray, name: str) -> None:
    """octsr.enhance's marginal seconds per B-scan (a volume of N pages minus one of 1 page)
    against BM3D on the same scan."""
    import bm3d

    start = time.perf_counter()
    bm3d.bm3d(noisy, 0.4 * noisy.std())
    bm3d_s = time.perf_counter() - start
    size = f"{noisy.shape[0]}x{noisy.shape[1]}"
    for precision in ("fp32", "auto"):
        marginal = enhance_marginal_s(noisy, mode.pages, f"precision={precision}")
        if precision == "auto":
            from octsr.inference import load_restorer

            chosen = load_restorer({"weights": "best", "precision": "auto"}).precision  # what enhance chose
            setting = f"precision=auto, the default: {chosen} on this CPU"
        else:
            setting = "precision=fp32"
        what = (f"octsr.enhance, shipped default weights, {setting}: marginal time per {size} B-scan ({name}; "
                f"{mode.pages}-page volume vs 1 page, startup excluded)")
        command = f"python -m octsr.enhance input=<volume.tif> output=<dir> precision={precision}"
        if marginal <= 0:  # a tiny scan: below enhance's 10 ms log resolution
            table.add("4 inference", what, "< 10 ms (below the log's resolution)", f"BM3D {bm3d_s:.1f} s",
                      None, ">= 100x faster than BM3D", None, command)
            continue
        table.add("4 inference", what, f"{1000 * marginal:.0f} ms", f"BM3D {bm3d_s:.1f} s", bm3d_s / marginal,
                  ">= 100x faster than BM3D" if precision == "auto" else "(reference)",
                  bm3d_s / marginal >= 100 if precision == "auto" else None, command)
    # The optional slower mode: its speed is stated, not held to the default's target.
    marginal = enhance_marginal_s(noisy, mode.pages, "weights=quality")
    table.add("4 inference", f"octsr.enhance weights=quality (residual U-Net, tta: 8 passes), precision=auto: "
              f"marginal time per {size} B-scan ({name}; {mode.pages}-page volume vs 1 page, startup excluded)",
              f"{1000 * marginal:.0f} ms" if marginal > 0 else "< 10 ms (below the log's resolution)",
              f"BM3D {bm3d_s:.1f} s", bm3d_s / marginal if marginal > 0 else None, "(the slower mode: its speed)",
              None, "python -m octsr.enhance input=<volume.tif> output=<dir> weights=quality")


def bench_volume(table: Table, mode: Mode, out: Path) -> None:
    """octsr.enhance on a long 16-bit DICOM volume (an Ophthalmic Tomography object written by
    octsr's own DICOM writer, uncompressed as scanners write them): the whole run's peak RSS
    against the volume's own pixels, and B-scans per second."""
    from octsr.formats.dicom import write_derived_dicom
    from octsr.formats.volume import Spacing, Volume

    frames, (height, width) = mode.volume_frames, mode.scan
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 65536, (frames, height, width), dtype=np.uint16)
    path = out / "volume.dcm"
    write_derived_dicom(Volume(pixels, Spacing(0.0057, 0.0039, 0.05), out / "volume.tif", "tiff"), pixels, path,
                        "a long volume for the benchmark")
    del pixels
    pixels_mb = frames * height * width * 2 / 2**20
    command = "python -m octsr.enhance input=<volume.dcm> output=<dir>"
    seconds, rss, _ = run_child([sys.executable, "-m", "octsr.enhance", f"input={path}",
                                 f"output={out / 'volume_out'}"])
    table.add("4 inference", f"octsr.enhance, shipped default weights, a {frames}-frame 16-bit DICOM volume of "
              f"{height}x{width} B-scans ({pixels_mb:.0f} MB of pixels): peak RSS of the whole run",
              f"{rss} MB", f"{frames / seconds:.1f} B-scans/s, {seconds:.0f} s wall with startup", None,
              "<= 1536 MB", rss <= 1536, command)

    # Streaming: a volume's time per B-scan in enhance (reading, converting, writing
    # included) against the network's own time on the same B-scan, in the precision
    # enhance chose.
    from octsr.inference import load_restorer

    noisy, _, name = bscan(mode.scan)
    pages = frames // 4
    restorer = load_restorer({"weights": "best", "precision": "auto"})
    network_ms = warm_ms(lambda: restorer(noisy), mode.repeats)
    per_bscan_ms = 1000 * enhance_marginal_s(noisy, pages)
    table.add("4 inference", f"octsr.enhance, a {pages}-page 8-bit TIFF volume of {name}: time per B-scan "
              f"(read, restore, write; marginal over a 1-page file), precision=auto ({restorer.precision})",
              f"{per_bscan_ms:.0f} ms" if per_bscan_ms > 0 else "below the log's resolution",
              f"the network alone {network_ms:.0f} ms", per_bscan_ms / network_ms if per_bscan_ms > 0 else None,
              "<= 1.10", per_bscan_ms / network_ms <= 1.10 if per_bscan_ms > 0 else None,
              "python -m octsr.enhance input=<volume.tif> output=<dir>")


def record_outputs(folder: Path, count: int) -> tuple[float, int, int]:
    """`count` small outputs, each of its own input, added to an output folder's record as
    enhance adds them, and the journal folded once: (seconds, journal bytes, record bytes).
    The files exist before the clock starts: the record's cost, not the file system's, is
    measured."""
    from octsr.utils.provenance import OutputRecord

    (folder / "in").mkdir(parents=True)
    (folder / "out").mkdir()
    pairs = [(folder / "in" / f"bscan{i:06d}.tif", folder / "out" / f"bscan{i:06d}.tif") for i in range(count)]
    for pair in pairs:
        for path in pair:
            path.write_bytes(b"\0" * 100)
    start = time.perf_counter()
    with OutputRecord(folder / "out") as record:
        for source, output in pairs:
            record.add(source, output, "0123456789abcdef")
        journal = record.journal_path.stat().st_size
    seconds = time.perf_counter() - start
    size = record.path.stat().st_size
    shutil.rmtree(folder)
    return seconds, journal, size


def bench_output_record(table: Table, mode: Mode, out: Path) -> None:
    """The output record's cost per output (one journal line each, one fold at the end) for
    a run of 100,000 outputs against a run of 1,000: the same per output is the claim."""
    count, reference = (2_000, 200) if mode.name == "tiny" else (100_000, 1_000)
    seconds, journal, size = record_outputs(out / "record_many", count)
    small = min(record_outputs(out / f"record_few{i}", reference)[0] for i in range(3))
    ratio = (seconds / count) / (small / reference)
    table.add("4 inference", f"the output record of a {count:,}-output run (`.octsr-outputs.json`): every output "
              f"added through the journal, then folded once; wall time and bytes written",
              f"{seconds:.2f} s ({1e6 * seconds / count:.0f} µs per output), {(journal + size) / 1e6:.1f} MB "
              f"written (journal {journal / 1e6:.1f} MB, record {size / 1e6:.1f} MB)",
              f"{reference:,} outputs: {1e6 * small / reference:.0f} µs per output (best of 3)", ratio,
              "<= 2 (the same cost per output)", ratio <= 2, "python -m octsr.enhance input=<folder> output=<dir>")

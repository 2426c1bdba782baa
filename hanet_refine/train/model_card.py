"""Model cards (README.md of a weights folder) and exporting a training run into ``weights/``."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from ..registry import CONFIG_FILE, WEIGHTS_FILE

__all__ = ["export_run", "model_card"]

DATA_LICENSE = """\
Trained on the Bandai Namco Research Motion Dataset 1 and 2 (Kobayashi et al., "Motion Capture
Dataset for Practical Use of AI-based Motion Editing and Stylization", arXiv 2306.08861;
https://github.com/BandaiNamcoResearchInc/Bandai-Namco-Research-Motiondataset), (c) Bandai Namco
Research Inc., licensed CC BY-NC 4.0. These weights are derived from it and carry the same
license: attribution to Bandai Namco Research Inc., **non-commercial use only**
(https://creativecommons.org/licenses/by-nc/4.0/). The hanet_refine code is MIT-licensed."""


def _results_tables(results: dict[str, Any]) -> str:
    from .benchmark import markdown_table
    from .evaluate import METRIC_ORDER

    lines = []
    for severity, rows in results.get("results", results).items():
        kind = results.get("kind")
        order = METRIC_ORDER.get(kind, sorted(next(iter(rows.values()))))
        lines += [f"Severity **{severity}**:", "", markdown_table(rows, order), ""]
    return "\n".join(lines)


def model_card(*, batch_size: int, name: str, kind: str, layout: str, config: dict[str, Any], params: int, command: str,
               steps: int, train_seconds: float, results: dict[str, Any] | None, evaluate_command: str) -> str:
    arch = config.get("architecture", "hanet")
    keys = ("sample_interval", "num_samples", "dim", "encoder_levels", "decoder_layers", "ffn_ratio", "heads",
            "dropout", "norm_first", "dense_memory") if arch == "hanet" else ()
    sizes = ", ".join([f"{k}={config[k]}" for k in keys if k in config]
                      + [f"{k}={v}" for k, v in (config.get("smoothnet") or {}).items()])
    window = config["sample_interval"] * config["num_samples"] + 1
    units = {"2d": "pixels (images of 640x480 to 1920x1080)", "3d": "millimetres",
             "smpl": "millimetres (joints of the SMPL-like skeleton) and degrees"}[kind]
    parts = [
        "---",
        "license: cc-by-nc-4.0",
        "library_name: hanet-refine",
        "tags: [pose-estimation, keypoint-smoothing, hanet]",
        "---",
        f"# {name}",
        "",
        f"{'HANet' if arch == 'hanet' else 'SmoothNet'} refiner for **{kind}** keypoints in the **{layout}** "
        f"layout, for `hanet_refine.refine(..., kind={kind!r})`.",
        "",
        "## Model",
        f"- Architecture: {arch} ({sizes}); window {window} frames at {config.get('fps', 30.0):g} fps.",
        f"- Parameters: {params:,} ({params * 4 / 2**20:.2f} MiB as float32 safetensors).",
        "- Input: each window centred and scaled by the person's size; missing points filled by "
        + ("interpolation and flagged to the network." if arch == "hanet" else
           "interpolation (SmoothNet does not see which points were missing)."),
        "",
        "## Training",
        "- Commands, in order (each stage starts from the best model of the one before):",
        "",
        "```bash",
        command,
        "```",
        "",
        f"- Steps: {steps:,} (batch {batch_size} windows), {train_seconds / 3600:.2f} h on a shared 2-core CPU.",
        "- Data: clean motion capture, corrupted on the fly like an estimator (jitter calibrated on "
        "MediaPipe Pose, slowly varying bias, occlusions, missed frames, left/right swaps, jumps; "
        "severity drawn per window), see docs/DATA_CARD.md of hanet_refine."
        + (" Stages with `--corruption` changed the training corruption as their command says; "
           "the validation and the results below use the documented protocol." if "--corruption" in command else ""),
        "",
        "## Results on the test split",
        f"Whole test clips (files never seen in training), corrupted by the documented protocol; errors in {units}. "
        "`raw` is the corrupted input with missing points linearly interpolated."
        + (" `bias only` is the clean motion plus the protocol's slowly varying bias alone, what "
           "would be left if every other error were removed: filters cannot remove that bias; a "
           "network can remove the part of it that breaks the body's shape (much of it in 3d, "
           "little in 2d)." if results and
           any("bias only" in rows for rows in results.get("results", {}).values()) else ""),
        "",
        _results_tables(results) if results else "(not evaluated)",
        f"Reproduce: `{evaluate_command}`",
        "",
        "## License",
        DATA_LICENSE,
        "",
    ]
    return "\n".join(parts)


def export_run(run_dir: str | Path, weights_dir: str | Path, *, name: str, command: str,
               results_file: str | Path | None = None, evaluate_command: str = "",
               previous: list[str | Path] = ()) -> str:
    """Copy ``run_dir/best`` to ``weights_dir/name`` with a model card; returns the weights' sha256.

    ``previous`` lists the earlier runs this one started from (``--init-from``), so that the
    card counts all their steps and time.
    """
    run, dest = Path(run_dir), Path(weights_dir) / name
    best = run / "best"
    config = json.loads((best / CONFIG_FILE).read_text())
    steps, seconds = 0, 0.0
    for stage in [*previous, run]:
        # Each stage's best model (lowest validation error) is what the next stage, or the export, took.
        best_entry = min(json.loads((Path(stage) / "history.json").read_text()), key=lambda h: h["val_model"])
        steps += best_entry["step"]
        seconds += best_entry["seconds"]
    dest.mkdir(parents=True, exist_ok=True)
    for f in (WEIGHTS_FILE, CONFIG_FILE):
        shutil.copy(best / f, dest / f)
    from safetensors import safe_open

    with safe_open(str(dest / WEIGHTS_FILE), "pt") as f:
        params = sum(_prod(f.get_slice(k).get_shape()) for k in f.keys())
    results = json.loads(Path(results_file).read_text()) if results_file else None
    batch = json.loads((run / "train_config.json").read_text())["batch_size"]
    card = model_card(batch_size=batch, name=name, kind=config["kind"], layout=config["layout"], config=config, params=params,
                      command=command, steps=steps, train_seconds=seconds,
                      results=results, evaluate_command=evaluate_command)
    (dest / "README.md").write_text(card)
    return hashlib.sha256((dest / WEIGHTS_FILE).read_bytes()).hexdigest()


def _prod(shape: list[int]) -> int:
    out = 1
    for n in shape:
        out *= int(n)
    return out

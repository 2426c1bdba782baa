"""Benchmarks: HANet against SmoothNet and the classical filters, on accuracy and on speed.

Accuracy (``python -m hanet_refine.train benchmark``): each classical filter's parameters are
tuned on the validation split (grid search over ``PARAM_GRID``, by MPJPE at medium severity)
and frozen; then every method refines the same corrupted test clips per severity (see
:mod:`hanet_refine.train.evaluate`). Writes ``benchmark_<kind>-<layout>.md`` / ``.json`` and
PNG plots to the output folder.

Speed (``--speed``): frames per second on one 10-minute, 30 fps COCO-17 track (18,000
frames) and on 10 such tracks at once, for every method in the same run, with ratios; the
peak memory of a 1-hour clip (108,000 frames) in a fresh process; and the stride trade-off
of the default model (accuracy on validation clips against speed).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..baselines import FILTERS, PARAM_GRID
from .evaluate import (
    METRIC_ORDER,
    Method,
    bias_only_scores,
    estimator_input,
    raw_method,
    refine_method,
    score_clips,
)

__all__ = ["tune_filter", "accuracy_benchmark", "speed_benchmark"]


def filter_method(name: str, kind: str, params: dict[str, Any], fps: float = 30.0) -> Method:
    fn = FILTERS[name]

    def run(clip: dict[str, np.ndarray]) -> np.ndarray:
        out = fn(estimator_input(clip, kind), kind, fps=fps, **params)
        return out[..., :2] if kind == "2d" else out

    return run


def tune_filter(name: str, kind: str, clips: list[dict[str, np.ndarray]]) -> tuple[dict[str, Any], float]:
    """Grid search of one filter's parameters by MPJPE; returns ``(best params, its MPJPE)``."""
    grid = PARAM_GRID[name]
    best, best_err = {}, np.inf
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values))
        err = score_clips(filter_method(name, kind, params), clips, kind)["mpjpe"]
        if err < best_err:
            best, best_err = params, err
    return best, best_err


def markdown_table(rows: dict[str, dict[str, float]], columns: list[str]) -> str:
    cols = [c for c in columns if any(c in r for r in rows.values())]
    lines = ["| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, r in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{r[c]:.2f}" if c in r else "-" for c in cols) + " |")
    return "\n".join(lines)


def accuracy_benchmark(kind: str, layout: str, *, cache: Path, out_dir: Path, hanet: Any = None,
                       smoothnet: Any = None, severities: tuple[str, ...] = ("low", "medium", "high"),
                       max_clips: int | None = 60, tune_clips: int = 30,
                       corruption: dict[str, Any] | None = None) -> dict[str, Any]:
    """Tune the filters, score every method per severity, write tables and plots.

    ``corruption`` changes the documented protocol (as ``make_eval_set``) for tuning and test;
    the files then get a ``_changed-protocol`` suffix and say what changed.
    """
    from .dataset import make_eval_set

    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"kind": kind, "layout": layout, "tuned": {}, "results": {}}
    lines = [f"## {kind} {layout}", ""]
    if corruption:
        report["corruption"] = corruption
        lines += [f"Protocol changed: `{json.dumps(corruption)}` (everything else as documented).", ""]
    methods: dict[str, Method] = {"raw": raw_method(kind)}
    if kind != "smpl":
        val = make_eval_set(cache, kind=kind, layout=layout, split="validation", severity="medium", seed=0,
                            max_clips=tune_clips, corruption=corruption)
        for name in FILTERS:
            started = time.perf_counter()
            params, err = tune_filter(name, kind, val)
            report["tuned"][name] = params
            print(f"tuned {name}: {params} (validation MPJPE {err:.2f}, {time.perf_counter() - started:.0f} s)",
                  flush=True)
            methods[name] = filter_method(name, kind, params)
        lines += ["Filter parameters tuned on the validation split (medium severity, by MPJPE):", ""]
        lines += [f"- {n}: `{p}`" for n, p in report["tuned"].items()] + [""]
    if smoothnet is not None:
        methods["SmoothNet"] = refine_method(kind, layout, smoothnet)
    methods["HANet"] = refine_method(kind, layout, hanet)
    wrist_clips = None
    for severity in severities:
        clips = make_eval_set(cache, kind=kind, layout=layout, split="test", severity=severity, seed=0,
                              max_clips=max_clips, corruption=corruption)
        rows = {}
        for name, method in methods.items():
            rows[name] = score_clips(method, clips, kind)
        if (bias_only := bias_only_scores(clips, kind)) is not None:
            rows["bias only"] = bias_only  # a reference, not a method
        report["results"][severity] = rows
        if wrist_clips is None or severity == "medium":
            wrist_clips = clips
        table = markdown_table(rows, METRIC_ORDER[kind])
        lines += [f"### severity {severity} (test split, {len(clips)} clips)", "", table, ""]
        print(f"\n{kind} {layout}, severity {severity}\n{table}", flush=True)
    stem = out_dir / f"benchmark_{kind}-{layout}{'_changed-protocol' if corruption else ''}"
    if kind != "smpl" and wrist_clips:
        _plot_wrist(kind, layout, methods, wrist_clips, stem.with_name(stem.name + "_wrist.png"))
    units = {"2d": "pixels", "3d": "millimetres", "smpl": "millimetres (joints) and degrees"}[kind]
    lines += [f"Errors in {units}; accel in the same unit per frame squared; pck in percent."
              + (" `bias only` is the clean motion plus the protocol's slow bias alone (no method; "
                 "see hanet_refine.train.evaluate)." if kind != "smpl" else "")]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1))
    _plot_severity(report, stem.with_name(stem.name + "_severity.png"))
    return report


def _plot_wrist(kind: str, layout: str, methods: dict[str, Method], clips: list[dict[str, Any]], path: Path) -> None:
    """Left wrist over time in the longest clip: ground truth, raw and every method."""
    try:
        from ..render import plot_trajectories
    except ImportError:
        return
    clip = max(clips, key=lambda c: len(c["clean"]))
    seqs = {"ground truth": clip["clean"], **{name: np.asarray(m(clip)) for name, m in methods.items()}}
    try:
        plot_trajectories(seqs, layout, ["left_wrist"], path, fps=30.0)
    except ImportError:
        pass


def _plot_severity(report: dict[str, Any], path: Path) -> None:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return
    severities = list(report["results"])
    methods = list(next(iter(report["results"].values())))
    fig = Figure(figsize=(9, 3.4), dpi=100)
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("mpjpe", "accel")):
        for m in methods:
            ax.plot(severities, [report["results"][s][m].get(metric, np.nan) for s in severities], marker="o", label=m)
        ax.set_title(f"{report['kind']} {report['layout']}: {metric}")
        ax.set_xlabel("corruption severity")
        ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)


# ------------------------------------------------------------------------------------------
# Speed

_MEMORY_SCRIPT = """
import sys, numpy as np
def peak():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM'):
            return int(line.split()[1]) / 1024
from hanet_refine import refine
from hanet_refine.baselines import FILTERS
x = np.random.default_rng(0).normal(size=(108000, 17, 2)) * 3 + 500
method, weights = sys.argv[1], sys.argv[2] or None
run = (lambda a: refine(a, weights=weights)) if method == 'hanet' else (lambda a: FILTERS[method](a, '2d'))
run(x[:100])
before = peak()
run(x)
print(before, peak())
"""


def peak_memory_mib(method: str, weights: str | None) -> tuple[float, float]:
    """(MiB before, MiB peak) of refining a 1-hour COCO-17 clip in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, method, weights or ""], capture_output=True,
                         text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": str(os.cpu_count())})
    before, after = map(float, out.stdout.split())
    return before, after


def _clip(frames: int, tracks: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / 30.0
    base = 500 + 120 * np.sin(2 * np.pi * 0.5 * t + rng.normal(size=(tracks, 1, 17, 2)))
    clip = base + rng.normal(size=(tracks, frames, 17, 2)) * 3
    return clip[0] if tracks == 1 else clip


def _fps(fn: Any, x: np.ndarray, repeats: int = 3) -> float:
    fn(x[..., :200, :, :] if x.ndim == 4 else x[:200])  # warm-up (model load, allocations)
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        fn(x)
        best = min(best, time.perf_counter() - started)
    frames = x.shape[0] * x.shape[1] if x.ndim == 4 else x.shape[0]
    return frames / best


def speed_benchmark(*, hanet: Any = None, smoothnet: Any = None, filters: dict[str, dict[str, Any]] | None = None,
                    strides: tuple[int, ...] = (4, 8, 16, 24, 33), cache: Path | None = None,
                    out_dir: Path | None = None, memory: bool = True) -> str:
    """Frames/s of each method on 18,000 frames, 1 and 10 tracks; peak memory; stride trade-off."""
    import torch

    from ..refine import refine
    from ..registry import load_refiner

    single, many = _clip(18_000, 1), _clip(18_000, 10)
    methods: dict[str, Any] = {"HANet": lambda a: refine(a, weights=hanet)}
    if smoothnet is not None:
        methods["SmoothNet"] = lambda a: refine(a, weights=smoothnet)
    for name, fn in FILTERS.items():
        params = (filters or {}).get(name, {})
        methods[name] = lambda a, fn=fn, params=params: fn(a, "2d", **params)
    rows = {}
    for name, fn in methods.items():
        rows[name] = (_fps(fn, single), _fps(fn, many, repeats=1))
        print(f"{name}: {rows[name][0]:,.0f} frames/s (1 track), {rows[name][1]:,.0f} frames/s (10 tracks)", flush=True)
    ref = rows["HANet"]
    lines = [f"Speed on this machine ({os.cpu_count()} CPU cores, torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads), 10 min of 30 fps COCO-17:", "",
             "| method | frames/s, 1 track | frames/s, 10 tracks | x HANet (1 track) |", "|---|---|---|---|"]
    lines += [f"| {n} | {a:,.0f} | {b:,.0f} | {a / ref[0]:.2f} |" for n, (a, b) in rows.items()]
    if memory:
        lines += ["", "Peak memory refining a 1-hour clip (108,000 frames) in a fresh process:", "",
                  "| method | MiB before | MiB peak | MiB added |", "|---|---|---|---|"]
        for name, key in (("HANet", "hanet"), ("savgol", "savgol")):
            before, peak = peak_memory_mib(key, None if hanet is None else str(hanet))
            lines.append(f"| {name} | {before:.0f} | {peak:.0f} | {peak - before:.0f} |")
    if cache is not None:
        from .dataset import make_eval_set

        base = load_refiner(hanet, "2d", "coco17")
        clips = make_eval_set(cache, kind="2d", layout="coco17", split="validation", severity="medium", seed=0,
                              max_clips=30)
        lines += ["", f"Stride trade-off of the default 2d model (window {base.window}; validation, medium):", "",
                  "| stride | windows per frame | MPJPE px | accel | frames/s, 1 track |", "|---|---|---|---|---|"]
        default_stride = base.stride
        for stride in strides:
            base.stride = stride
            scores = score_clips(refine_method("2d", "coco17", hanet), clips, "2d")
            fps = _fps(lambda a: refine(a, weights=hanet), single, repeats=1)
            mark = " (default)" if stride == default_stride else ""
            lines.append(f"| {stride}{mark} | {base.window / stride:.1f} | {scores['mpjpe']:.2f} | "
                         f"{scores['accel']:.2f} | {fps:,.0f} |")
        base.stride = default_stride
    text = "\n".join(lines)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "benchmark_speed.md").write_text(text + "\n")
    return text

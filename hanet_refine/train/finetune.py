"""Fine-tuning a pretrained model on the user's own data."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from ..registry import load_refiner, resolve_weights
from .batches import ArraySampler
from .trainer import TrainConfig, train

__all__ = ["finetune", "load_pairs"]

logger = logging.getLogger(__name__)


def load_pairs(paths: Sequence[str | Path]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Read (noisy, clean) pairs from ``.npz`` files holding arrays ``noisy`` and ``clean``.

    Raises:
        ValueError: if a file lacks one of the two arrays.
    """
    noisy, clean = [], []
    for path in paths:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("noisy", "clean") if k not in data.files]
            if missing:
                raise ValueError(f"{str(path)!r} lacks arrays {missing}; it has {data.files}")
            noisy.append(data["noisy"])
            clean.append(data["clean"])
    return noisy, clean


def _split(noisy: list[np.ndarray], clean: list[np.ndarray], fraction: float, seed: int):
    """Hold out whole sequences for validation (the last part of one sequence if only one)."""
    if len(noisy) > 1:
        order = np.random.default_rng(seed).permutation(len(noisy))
        n_val = max(1, round(fraction * len(noisy)))
        val, tr = order[:n_val], order[n_val:]
        return [noisy[i] for i in tr], [clean[i] for i in tr], [noisy[i] for i in val], [clean[i] for i in val]
    cut = int(len(noisy[0]) * (1 - fraction))
    return [noisy[0][:cut]], [clean[0][:cut]], [noisy[0][cut:]], [clean[0][cut:]]


def finetune(
    pretrained: str | Path,
    out_dir: str | Path,
    *,
    noisy: Sequence[np.ndarray] | None = None,
    clean: Sequence[np.ndarray] | None = None,
    bvh_files: Sequence[str | Path] | None = None,
    kind: str = "2d",
    layout: str = "coco17",
    steps: int = 2000,
    batch_size: int = 32,
    lr: float = 2e-4,
    severity: str | float = "medium",
    val_fraction: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Fine-tune ``pretrained`` on the caller's data and save a folder ``refine`` can load.

    Give either ``noisy`` and ``clean`` (lists of matching ``(T, J, D)`` sequences in the
    model's layout; 2d noisy may carry a confidence column; smpl: ``(T, 24, 3, 3)``), or
    ``bvh_files``: motion capture that the training-data pipeline corrupts like an estimator.

    Args:
        pretrained: a registered name, model folder or Hub repo id.
        out_dir: run folder; the model is written to ``out_dir/best``.
        kind, layout: which pretrained model (when ``pretrained`` is a registered name these
            must match it).
        steps, batch_size, lr: optimisation (a low learning rate keeps what was learnt).
        severity: corruption severity for ``bvh_files``.
        val_fraction: share of sequences held out for validation.

    Returns:
        The folder of the fine-tuned model (``out_dir/best``): ``refine(..., weights=it)``.

    Raises:
        ValueError: if neither or both data sources are given, or shapes do not match.
    """
    if (noisy is None) == (bvh_files is None):
        raise ValueError("give either noisy= and clean= sequence pairs, or bvh_files=")
    folder, _ = resolve_weights(pretrained, kind, layout)
    base = load_refiner(pretrained, kind, layout)
    window = base.window
    if bvh_files is not None:
        from .dataset import sampler_from_bvh

        sampler = sampler_from_bvh(bvh_files, kind=kind, layout=layout, window=window, severity=severity,
                                   seed=seed)
        val_sampler = sampler_from_bvh(bvh_files, kind=kind, layout=layout, window=window, severity=severity,
                                       seed=seed + 1)
    else:
        if clean is None or len(clean) != len(noisy):
            raise ValueError("noisy and clean must be lists of the same length")
        tr_n, tr_c, va_n, va_c = _split(list(noisy), list(clean), val_fraction, seed)
        sampler = ArraySampler(tr_n, tr_c, window=window, seed=seed)
        val_sampler = ArraySampler(va_n, va_c, window=window, seed=seed + 1)
    cfg = TrainConfig(kind=kind, layout=layout, out_dir=str(out_dir), steps=steps, batch_size=batch_size, lr=lr,
                      warmup_steps=min(100, steps // 10), eval_every=max(1, steps // 10),
                      checkpoint_every=max(1, steps // 10), init_from=str(folder), model={}, seed=seed)
    train(cfg, sampler, [val_sampler.sample(256)], progress=progress)
    return Path(out_dir) / "best"

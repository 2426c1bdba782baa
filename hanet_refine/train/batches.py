"""Turning sampled (noisy, clean) windows into what the network trains on, as refine() would.

Samplers return NumPy dicts with ``noisy`` and ``clean`` (and, for 2d, ``confidence``) in the
data's own units; :func:`prepare_batch` applies the same missing-point rules and filling as
:func:`hanet_refine.refine` (NaN, low confidence and 2d (0, 0) are missing) and, for smpl,
turns rotation matrices into 6D.
"""

from __future__ import annotations

import numpy as np

from ..missing import DEFAULT_CONFIDENCE_THRESHOLD, fill_missing, missing_mask
from ..rotations import matrix_to_rot6d

__all__ = ["prepare_batch", "ArraySampler"]


def prepare_batch(batch: dict[str, np.ndarray], kind: str) -> dict[str, np.ndarray]:
    """``filled`` (B, L, J, D) float64, ``missing`` (B, L, J), ``clean`` (B, L, J, D) and ``keep``.

    Windows in which nothing was observed are dropped (``keep`` says which were kept).
    """
    noisy, clean = batch["noisy"], batch["clean"]
    if kind == "smpl":
        noisy, clean = matrix_to_rot6d(noisy), matrix_to_rot6d(clean)
    mask = missing_mask(noisy, batch.get("confidence") if kind == "2d" else None,
                        threshold=DEFAULT_CONFIDENCE_THRESHOLD, zero_is_missing=kind == "2d")
    keep = ~mask.all(axis=(1, 2))
    filled = fill_missing(noisy[keep], mask[keep])
    out = {"filled": filled, "missing": mask[keep], "clean": clean[keep].astype(np.float64), "keep": keep}
    for key in ("occluded", "failed"):
        if key in batch:
            out[key] = batch[key][keep]
    return out


class ArraySampler:
    """Random windows from the caller's own (noisy, clean) sequence pairs.

    Args:
        noisy: list of ``(T_i, J, D)`` arrays (2d may carry a confidence column: D = 3), or
            for smpl ``(T_i, 24, 3, 3)`` rotation matrices.
        clean: matching ground truth, ``(T_i, J, D)`` (positions) or ``(T_i, 24, 3, 3)``.
        window: frames per window; sequences shorter than it are skipped with an error if
            none is long enough.
        seed: random seed.
    """

    def __init__(self, noisy: list[np.ndarray], clean: list[np.ndarray], *, window: int, seed: int = 0) -> None:
        if len(noisy) != len(clean) or not noisy:
            raise ValueError(f"need as many noisy as clean sequences (>= 1), got {len(noisy)} and {len(clean)}")
        pairs = []
        for i, (n, c) in enumerate(zip(noisy, clean)):
            n, c = np.asarray(n, dtype=np.float64), np.asarray(c, dtype=np.float64)
            if n.shape[0] != c.shape[0] or n.shape[1] != c.shape[1]:
                raise ValueError(f"pair {i}: noisy {n.shape} and clean {c.shape} differ in frames or joints")
            if n.shape[0] >= window:
                pairs.append((n, c))
        if not pairs:
            raise ValueError(f"no sequence has at least {window} frames (the model's window)")
        self.pairs, self.window = pairs, window
        self.rng = np.random.default_rng(seed)
        lengths = np.array([len(n) - window + 1 for n, _ in pairs], dtype=np.float64)
        self.weights = lengths / lengths.sum()

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        which = self.rng.choice(len(self.pairs), size=batch_size, p=self.weights)
        noisy, clean = [], []
        for i in which:
            n, c = self.pairs[i]
            s = self.rng.integers(0, len(n) - self.window + 1)
            noisy.append(n[s : s + self.window])
            clean.append(c[s : s + self.window])
        noisy_arr, clean_arr = np.stack(noisy), np.stack(clean)
        out = {"clean": clean_arr}
        if noisy_arr.ndim == 4 and noisy_arr.shape[-1] == 3 and clean_arr.shape[-1] == 2:
            out["noisy"], out["confidence"] = noisy_arr[..., :2], noisy_arr[..., 2]
        else:
            out["noisy"] = noisy_arr
        return out

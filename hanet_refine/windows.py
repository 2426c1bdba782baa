"""Cutting a sequence into overlapping windows and merging the refined windows back.

Windows of ``L`` frames start every ``stride`` frames; the last window is moved back so that
it ends on the last frame, so every frame is covered and nothing is dropped. A sequence
shorter than ``L`` is padded at its end by repeating its last frame; those padded frames are
marked missing (so the network does not take them for observations) and cut off again.
Overlapping results are averaged with a sine taper that trusts the middle of a window more
than its edges, where the network has less context; the first and last frames of a sequence
are covered by one window only and come from its edge.
"""

from __future__ import annotations

import math

import torch

__all__ = ["window_starts", "merge_weights", "sliding_apply"]


def window_starts(length: int, window: int, stride: int) -> torch.Tensor:
    """Start frames of the windows covering ``length`` frames (one window if length <= window)."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if length <= window:
        return torch.zeros(1, dtype=torch.long)
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return torch.tensor(starts, dtype=torch.long)


def merge_weights(window: int) -> torch.Tensor:
    """(window,) positive sine taper, largest in the middle."""
    return torch.sin(math.pi * (torch.arange(window, dtype=torch.float64) + 0.5) / window)


def sliding_apply(fn, x: torch.Tensor, missing: torch.Tensor, *, window: int, stride: int,
                  chunk_size: int = 1024) -> torch.Tensor:
    """Apply ``fn`` to every window of ``x`` and merge the results.

    Args:
        fn: maps windows ``(w, window, *F)`` and their missing masks ``(w, window, J)`` to
            refined windows ``(w, window, *F)``.
        x: ``(B, T, *F)`` filled sequences.
        missing: ``(B, T, J)`` True where the input was missing.
        window: frames per window.
        stride: frames between window starts.
        chunk_size: windows per call of ``fn``; bounds the memory whatever T is.

    Returns:
        ``(B, T, *F)``, every frame refined.
    """
    b, t = x.shape[:2]
    if t < window:  # pad by repeating the last frame; padded frames are missing
        pad = window - t
        x = torch.cat([x, x[:, -1:].expand(b, pad, *x.shape[2:])], dim=1)
        missing = torch.cat([missing, missing.new_ones(b, pad, *missing.shape[2:])], dim=1)
    length = x.shape[1]
    starts = window_starts(length, window, stride).to(x.device)
    weights = merge_weights(window).to(device=x.device, dtype=x.dtype)
    offsets = torch.arange(window, device=x.device)
    total = torch.zeros_like(x)
    norm = torch.zeros(b, length, device=x.device, dtype=x.dtype)
    per_chunk = max(1, chunk_size // b)
    for first in range(0, len(starts), per_chunk):
        frames = starts[first : first + per_chunk, None] + offsets  # (w, window)
        w = frames.shape[0]
        xs = x[:, frames].reshape(b * w, window, *x.shape[2:])
        ms = missing[:, frames].reshape(b * w, window, *missing.shape[2:])
        ys = fn(xs, ms).reshape(b, w, window, *x.shape[2:])
        ys = ys * weights.view(1, 1, window, *([1] * (x.dim() - 2)))
        flat = frames.reshape(-1)
        total.index_add_(1, flat, ys.reshape(b, w * window, *x.shape[2:]))
        norm.index_add_(1, flat, weights.repeat(w).expand(b, -1))
    out = total / norm.view(b, length, *([1] * (x.dim() - 2)))
    return out[:, :t]

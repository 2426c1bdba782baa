"""Per-window normalisation, so that results do not depend on position, size or unit.

Each window is centred on the mean of its per-frame joint centroids and divided by the
person's size: the mean over frames of the RMS distance of the joints from the frame's
centroid. Both move and scale with the input, so refining a shifted or scaled track gives
the shifted or scaled result, for pixels as for metres, millimetres or any other unit.
Training uses the same functions, so the network only ever sees normalised windows.
"""

from __future__ import annotations

import torch

__all__ = ["normalize_windows", "denormalize_windows"]


def normalize_windows(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalise ``(b, l, J, D)`` windows; returns ``(normalised, center, scale)``.

    ``center`` is ``(b, 1, 1, D)`` and ``scale`` ``(b, 1, 1, 1)``; a window whose joints all
    coincide (zero size) keeps scale 1.
    """
    centroid = points.mean(dim=2, keepdim=True)  # b l 1 D
    center = centroid.mean(dim=1, keepdim=True)
    size = ((points - centroid) ** 2).sum(-1).mean(-1).sqrt().mean(-1)  # b
    scale = torch.where(size > 0, size, torch.ones_like(size)).view(-1, 1, 1, 1)
    return (points - center) / scale, center, scale


def denormalize_windows(points: torch.Tensor, center: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`normalize_windows`."""
    return points * scale + center

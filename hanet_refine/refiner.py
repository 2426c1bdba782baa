"""The refiner a power user holds: HANet plus windowing and normalisation, on tensors.

:func:`hanet_refine.refine` is a cached wrapper around a :class:`Refiner`; hold one yourself
to move it to a device, call it on batches, train it or push it to the Hub.
"""

from __future__ import annotations

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from .layouts import get_layout
from .model import HANet
from .normalize import denormalize_windows, normalize_windows
from .windows import sliding_apply

__all__ = ["Refiner", "COORD_DIMS"]

#: Values per joint that the network sees, per kind (smpl: 6D rotations).
COORD_DIMS = {"2d": 2, "3d": 3, "smpl": 6}


class SmoothNetWindows(nn.Module):
    """SmoothNet behind HANet's call: ``(x, missing) -> (final, final)``, for comparisons.

    SmoothNet has no coarse output; its final output stands in for it, so the same
    windowing, normalisation, trainer and loss serve both networks.
    """

    def __init__(self, window: int, **smoothnet) -> None:
        super().__init__()
        from .baselines.smoothnet import SmoothNet

        self.net = SmoothNet(window=window, **smoothnet)
        self.window = window
        self.register_buffer("sampled", torch.arange(window), persistent=False)

    def forward(self, x: torch.Tensor, missing: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(x, missing)
        return out, out


class Refiner(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="hanet-refine",
    tags=["pose-estimation", "keypoint-smoothing", "hanet"],
    repo_url="https://github.com/hanet-refine/hanet_refine",
):
    """HANet for one kind and keypoint layout, applied over sequences of any length.

    Args:
        kind: ``"2d"``, ``"3d"`` or ``"smpl"``.
        layout: keypoint layout name (see :mod:`hanet_refine.layouts`).
        fps: frame rate the network was trained at.
        stride: frames between window starts at inference (default: half a window).
        chunk_size: windows per network call; bounds memory for long inputs.
        architecture: ``"hanet"``, or ``"smoothnet"`` (the SmoothNet baseline with the same
            window, windowing and normalisation, for comparisons).
        smoothnet: SmoothNet arguments (hidden, res_hidden, num_blocks, dropout).
        **model: :class:`~hanet_refine.model.HANet` arguments (sample_interval, num_samples,
            dim, encoder_levels, decoder_layers, ffn_ratio, heads, dropout, norm_first,
            dense_memory).

    Shape:
        points: ``(B, T, J, D)`` filled keypoints (D = 2, 3 or 6), missing: ``(B, T, J)``.
        Returns ``(B, T, J, D)`` in the input's coordinates.
    """

    def __init__(
        self,
        *,
        kind: str,
        layout: str,
        fps: float = 30.0,
        stride: int | None = None,
        chunk_size: int = 1024,
        sample_interval: int = 1,
        num_samples: int = 32,
        dim: int = 64,
        encoder_levels: int = 2,
        decoder_layers: int = 2,
        ffn_ratio: int = 2,
        heads: int = 4,
        dropout: float = 0.0,
        norm_first: bool = True,
        dense_memory: bool = True,
        architecture: str = "hanet",
        smoothnet: dict | None = None,
    ) -> None:
        super().__init__()
        if architecture not in ("hanet", "smoothnet"):
            raise ValueError(f"architecture must be 'hanet' or 'smoothnet', got {architecture!r}")
        if kind not in COORD_DIMS:
            raise ValueError(f"kind must be one of {list(COORD_DIMS)}, got {kind!r}")
        self.kind, self.layout = kind, get_layout(layout)
        self.fps, self.chunk_size = float(fps), chunk_size
        self.architecture = architecture
        if architecture == "smoothnet":
            self.model = SmoothNetWindows(sample_interval * num_samples + 1, **(smoothnet or {}))
        else:
            self.model = HANet(
                num_joints=self.layout.num_joints, coord_dim=COORD_DIMS[kind], sample_interval=sample_interval,
                num_samples=num_samples, dim=dim, encoder_levels=encoder_levels, decoder_layers=decoder_layers,
                ffn_ratio=ffn_ratio, heads=heads, dropout=dropout, norm_first=norm_first,
                dense_memory=dense_memory,
            )
        self.window = self.model.window
        self.stride = stride if stride is not None else max(1, self.window // 2)
        if not 1 <= self.stride <= self.window:
            raise ValueError(f"stride must be between 1 and the window ({self.window}), got {stride}")

    def normalize(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(normalised, center, scale)`` of ``(b, L, J, D)`` windows, as the network sees them.

        Positions are centred and scaled per window (:mod:`hanet_refine.normalize`); smpl
        rotations have no position or size to normalise away and pass unchanged.
        """
        if self.kind == "smpl":
            one = windows.new_ones(windows.shape[0], 1, 1, 1)
            return windows, torch.zeros_like(one), one
        return normalize_windows(windows)

    def refine_windows(self, windows: torch.Tensor, missing: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the network on ``(b, L, J, D)`` windows in their own coordinates.

        Returns ``(final (b, L, J, D), coarse (b, Q + 1, J, D))``. Normalisation runs in the
        caller's precision (float64 from refine()), the network in its own.
        """
        b, l, j, d = windows.shape
        normed, center, scale = self.normalize(windows)
        dtype = next(self.model.parameters()).dtype
        final, coarse = self.model(normed.reshape(b, l, j * d).to(dtype), missing)
        final = denormalize_windows(final.reshape(b, l, j, d).to(windows.dtype), center, scale)
        coarse = denormalize_windows(coarse.reshape(b, -1, j, d).to(windows.dtype), center, scale)
        return final, coarse

    def forward(self, points: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
        b, t, j, d = points.shape
        if j != self.layout.num_joints or d != COORD_DIMS[self.kind]:
            raise ValueError(f"this refiner takes (B, T, {self.layout.num_joints}, {COORD_DIMS[self.kind]}) "
                             f"({self.kind}, {self.layout.name}), got {tuple(points.shape)}")
        return sliding_apply(
            lambda w, m: self.refine_windows(w, m)[0], points, missing,
            window=self.window, stride=self.stride, chunk_size=self.chunk_size,
        )

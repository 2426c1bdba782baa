"""SmoothNet: a temporal-only MLP that refines each keypoint channel on its own.

Written from the paper (Zeng, Yang, Ju, Li, Wang, Xu: "SmoothNet: A Plug-and-Play Network
for Refining Human Poses in Videos", ECCV 2022). Every channel (one coordinate of one
keypoint) is a length-L signal; one small MLP, shared by all channels, maps it to a
correction over the same L frames. Fully connected layers along time see the whole window
at once, which is what lets SmoothNet remove long-lasting jitter that local filters miss.

Dimensions used in comments:
    b - batch of windows, l - frames in a window (L), c - channels (J * D), h - hidden width.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SmoothNet"]


class _ResidualBlock(nn.Module):
    """x + MLP(x): Linear, LeakyReLU, Dropout, twice, on the hidden features of each channel."""

    def __init__(self, hidden: int, res_hidden: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(hidden, res_hidden),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(res_hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class SmoothNet(nn.Module):
    """Temporal MLP refiner (SmoothNet, Zeng et al. 2022), applied to each channel separately.

    The window of each channel goes through Linear(L -> hidden) and LeakyReLU, ``num_blocks``
    residual blocks (Linear(hidden -> res_hidden), LeakyReLU, Dropout, Linear(res_hidden ->
    hidden), LeakyReLU, Dropout, plus the block input), then Linear(hidden -> L); the result
    is added to the input window. Channels never mix, so one model serves any number of
    joints and any D (2d, 3d or 6D rotations). The defaults (hidden 512, residual width
    256, 3 blocks, window 32) give about 0.83 M parameters.

    Args:
        window: L, frames per window.
        hidden: width of the temporal embedding.
        res_hidden: inner width of each residual block.
        num_blocks: number of residual blocks.
        dropout: dropout probability inside the residual blocks.

    Raises:
        ValueError: on a non-positive size or a dropout outside [0, 1).

    Shape:
        x: ``(b, L, C)`` windows with C = J * D channels, normalised as for HANet, missing
        points filled with a first guess. Returns one tensor ``(b, L, C)``, the refined
        windows (unlike :class:`hanet_refine.model.HANet`, which also returns a coarse
        output, SmoothNet has only one).

    Example:
        >>> net = SmoothNet(window=32)
        >>> refined = net(torch.zeros(4, 32, 34))
    """

    def __init__(
        self,
        *,
        window: int = 32,
        hidden: int = 512,
        res_hidden: int = 256,
        num_blocks: int = 3,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        for name, value, low in (
            ("window", window, 1),
            ("hidden", hidden, 1),
            ("res_hidden", res_hidden, 1),
            ("num_blocks", num_blocks, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.window = window
        self.config = {
            "window": window,
            "hidden": hidden,
            "res_hidden": res_hidden,
            "num_blocks": num_blocks,
            "dropout": dropout,
        }
        self.encode = nn.Sequential(nn.Linear(window, hidden), nn.LeakyReLU(0.2))
        self.blocks = nn.Sequential(*(_ResidualBlock(hidden, res_hidden, dropout) for _ in range(num_blocks)))
        self.decode = nn.Linear(hidden, window)

    def forward(self, x: torch.Tensor, missing: torch.Tensor | None = None) -> torch.Tensor:
        """Refine a batch of windows.

        Args:
            x: ``(b, L, C)`` windows.
            missing: ``(b, L, J)`` mask, accepted for the same call as HANet and ignored
                (SmoothNet sees only the filled values).

        Returns:
            ``(b, L, C)`` refined windows.

        Raises:
            ValueError: if ``x`` is not 3-dimensional with L = ``window`` frames.
        """
        if x.ndim != 3 or x.shape[1] != self.window:
            raise ValueError(f"SmoothNet expects (batch, {self.window}, channels), got {tuple(x.shape)}")
        signals = x.transpose(1, 2)  # b c l: each channel's window is one input vector
        correction = self.decode(self.blocks(self.encode(signals)))
        return x + correction.transpose(1, 2)

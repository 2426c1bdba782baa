"""The HANet network: kinematic features, hierarchical encoder, sample-interpolate-decode.

Dimensions used in comments:
    b - batch of windows, l - frames in a window (L = N * Q + 1), s - sampled frames (Q + 1),
    c - keypoint channels (J * D), j - joints, d - model width.

The network works on normalised windows; :mod:`hanet_refine.refiner` does the windowing
and the normalisation around it.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["HANet", "kinematic_features"]


def sinusoidal_positions(length: int, width: int) -> torch.Tensor:
    """(length, width) sine/cosine position table of "Attention is all you need"."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)[:, : width // 2]
    return table


def kinematic_features(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Previous / next frame, local mean ("flow"), backward and forward velocity of (b, l, c).

    The ends are replicated, so the first frame's backward velocity is zero.
    """
    prev = torch.cat([x[:, :1], x[:, :-1]], dim=1)
    nxt = torch.cat([x[:, 1:], x[:, -1:]], dim=1)
    flow = (prev + x + nxt) / 3.0
    return prev, nxt, flow, x - prev, nxt - x


def interpolation_matrix(sample_interval: int, num_samples: int) -> torch.Tensor:
    """(l, s) matrix that linearly interpolates values at frames 0, N, 2N, ... to all l frames."""
    length = sample_interval * num_samples + 1
    t = torch.arange(length, dtype=torch.float32) / sample_interval
    k = torch.arange(num_samples + 1, dtype=torch.float32)
    return torch.clamp(1.0 - (t[:, None] - k[None, :]).abs(), min=0.0)


class ChannelAffine(nn.Module):
    """Per-channel scale and bias (a 1x1 depthwise convolution)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight + self.bias


class HANet(nn.Module):
    """Kinematic-aware hierarchical attention network (Jin et al., WACV 2023).

    Args:
        num_joints: J.
        coord_dim: D, values per joint (2 for 2d, 3 for 3d, 6 for 6D rotations).
        sample_interval: N; the encoder sees frames 0, N, 2N, ... of the window.
        num_samples: Q; the window has L = N * Q + 1 frames.
        dim: d, width of the first encoder level and of the decoder.
        encoder_levels: K; level i has width d * 2**i.
        decoder_layers: M transformer decoder layers.
        ffn_ratio: feed-forward width as a multiple of the layer width.
        heads: attention heads per layer.
        dropout: dropout in attention and feed-forward blocks.
        norm_first: layer norm before attention / feed-forward (pre-LN) instead of after.
        dense_memory: every frame is an encoder query (attending to the sampled frames only)
            and a decoder memory entry, as in the paper, so the decoder sees the frames
            between samples. False: only the sampled frames are encoded (cheaper, but detail
            between samples can only be interpolated; the first released models).

    Shape:
        x: ``(b, L, J * D)`` normalised keypoints, missing ones filled with a first guess.
        missing: ``(b, L, J)`` bool, True where the input was missing (optional).
        Returns ``(final, coarse)``: ``(b, L, J * D)`` and ``(b, Q + 1, J * D)``, the
        "refined input pose" at the sampled frames.

    Example:
        >>> net = HANet(num_joints=17, coord_dim=2)
        >>> final, coarse = net(torch.zeros(4, net.window, 34))
    """

    def __init__(
        self,
        *,
        num_joints: int,
        coord_dim: int,
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
    ) -> None:
        super().__init__()
        if sample_interval < 1 or num_samples < 1:
            raise ValueError(f"sample_interval and num_samples must be >= 1, got {sample_interval}, {num_samples}")
        if dim % heads or dim % 2:
            raise ValueError(f"dim ({dim}) must be even and divisible by heads ({heads})")
        self.num_joints, self.coord_dim = num_joints, coord_dim
        self.sample_interval, self.num_samples = sample_interval, num_samples
        self.window = sample_interval * num_samples + 1
        channels = num_joints * coord_dim
        widths = [dim * 2**i for i in range(encoder_levels)]

        self.velocity_back = ChannelAffine(channels)
        self.velocity_fwd = ChannelAffine(channels)
        self.acceleration = ChannelAffine(channels)
        self.embed = nn.Linear(4 * channels + num_joints, dim)

        def layer(width: int, cls: type[nn.Module]) -> nn.Module:
            return cls(width, heads, ffn_ratio * width, dropout, activation=F.leaky_relu, batch_first=True,
                       norm_first=norm_first)

        self.levels = nn.ModuleList(layer(w, nn.TransformerEncoderLayer) for w in widths)
        self.widen = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))
        self.fuse = nn.ModuleList(nn.Linear(w, dim) for w in widths)  # 1x1 convs back to width d
        self.coarse_head = nn.Linear(dim, channels)

        self.query_embed = nn.Conv1d(channels, dim, kernel_size=5, padding=2, padding_mode="replicate")
        self.memory_embed = nn.Linear(dim + 3 * channels, dim)
        self.decoder = nn.ModuleList(layer(dim, nn.TransformerDecoderLayer) for _ in range(decoder_layers))
        self.final_head = nn.Linear(dim, channels)
        # Start as the identity (zero offsets), so training improves on the input from step one.
        for head in (self.coarse_head, self.final_head):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

        sampled = torch.arange(0, self.window, sample_interval)
        queries = torch.arange(self.window) if dense_memory else sampled
        self.register_buffer("sampled", sampled, persistent=False)
        self.register_buffer("queries", queries, persistent=False)
        # Where the sampled frames are among the queries (all frames, or the samples themselves).
        self.register_buffer("sampled_rows", sampled if dense_memory else torch.arange(len(sampled)),
                             persistent=False)
        # Dense encoder attention: every frame attends to the sampled frames only (True = hidden).
        key_mask = None
        if dense_memory:
            key_mask = torch.ones(self.window, self.window, dtype=torch.bool)
            key_mask[:, sampled] = False
        self.register_buffer("key_mask", key_mask, persistent=False)
        self.register_buffer("interp", interpolation_matrix(sample_interval, num_samples), persistent=False)
        for i, w in enumerate(widths):
            self.register_buffer(f"pos_{i}", sinusoidal_positions(self.window, w)[queries], persistent=False)
        self.register_buffer("pos_dec", sinusoidal_positions(self.window, dim), persistent=False)

    def forward(self, x: torch.Tensor, missing: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        b, l, c = x.shape
        if l != self.window or c != self.num_joints * self.coord_dim:
            raise ValueError(
                f"HANet expects (batch, {self.window}, {self.num_joints * self.coord_dim}), got {tuple(x.shape)}"
            )
        if missing is None:
            missing = x.new_zeros(b, l, self.num_joints)
        prev, nxt, flow, v_back, v_fwd = kinematic_features(x)
        v_back, v_fwd = self.velocity_back(v_back), self.velocity_fwd(v_fwd)
        accel = self.acceleration((v_fwd - v_back) ** 2)

        # Encoder: q = every frame (dense_memory) or the sampled ones; keys are sampled frames.
        q = self.queries
        tokens = torch.cat([flow, x, prev, nxt, missing.to(x.dtype)], dim=-1)[:, q]  # b q (4c+j)
        h = self.embed(tokens)
        fused = 0.0
        for i, level in enumerate(self.levels):
            h = level(h + getattr(self, f"pos_{i}"), src_mask=self.key_mask)
            fused = fused + self.fuse[i](h)
            if i < len(self.widen):
                h = self.widen[i](h)
        fused = fused / len(self.levels)  # b q d: multi-scale fusion
        coarse = x[:, self.sampled] + self.coarse_head(fused[:, self.sampled_rows])

        # Decoder: interpolate the coarse pose to every frame, then correct it.
        interp = torch.einsum("ls,bsc->blc", self.interp.to(x.dtype), coarse)
        query = self.query_embed(interp.transpose(1, 2)).transpose(1, 2) + self.pos_dec
        memory = self.memory_embed(torch.cat([fused, v_back[:, q], v_fwd[:, q], accel[:, q]], dim=-1))
        for layer in self.decoder:
            query = layer(query, memory)
        final = interp + self.final_head(query)
        return final, coarse

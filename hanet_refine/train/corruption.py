"""Seeded, vectorised corruption that turns clean motion into estimator-like output.

Dimensions: ``b`` batch, ``t`` time, ``j`` joints, ``d`` coordinates (2 pixels or 3 metres).

Every magnitude below is given at severity 1 ("medium") and relative to the body size of the
sequence (:func:`body_size`: the median over frames of the diagonal of the joints' bounding
box), so the same parameters serve pixels and metres. A severity ``s`` multiplies the noise
magnitudes (jitter, bias, drift speed) and every event rate by ``s``, and event durations and
jump / spike distances by ``sqrt(s)`` (SMPL jump angles are not scaled); ``s = 0`` leaves the
motion clean. Named severities: ``"low"`` = 0.5, ``"medium"`` = 1, ``"high"`` = 2.
``"mixed"`` draws one severity per sequence, log-uniformly in [0.25, 2.5].

Corruption protocol at severity 1 (times at ``fps``; B = body size; the 2d jitter comes from
``jitter_calibration.json`` when it is there, see :func:`position_params`):

{protocol}

The steps, in order: jitter + bias; drift (the occluded joint holds where it was when the
occlusion began and slides away at a random velocity); left/right swaps (the positions of
the paired joints are exchanged, jitter included); jumps; then NaN for missing joints and
missed frames. 3D: every magnitude along z (the virtual camera's depth axis, see
:func:`hanet_refine.train.cameras.random_placement`) is multiplied by ``depth_factor``.

Flags: ``occluded`` is True where a joint is missing (NaN) or drifting; ``failed`` where it
was swapped, jumped, spiked or (SMPL) its sequence's global orientation was flipped, and not
missing. Confidence (2d and 3d): 0 where missing, ``U(0.05, 0.5)`` while drifting (so about
half of the drifting points pass a 0.3 threshold and must be distrusted by the model),
``U(0.1, 0.7)`` when failed (an estimator is often sure of a wrong answer), otherwise
``0.98 exp(-|error| / (0.08 B))`` times ``U(0.85, 1)``, so it falls with the jitter.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from hanet_refine.layouts import Layout, get_layout

logger = logging.getLogger(__name__)

__all__ = [
    "SEVERITIES",
    "PositionParams",
    "SmplParams",
    "body_size",
    "corrupt",
    "corrupt_smpl",
    "joint_class",
    "load_jitter_calibration",
    "position_params",
    "protocol_table",
    "severity_array",
]

SEVERITIES: dict[str, float] = {"low": 0.5, "medium": 1.0, "high": 2.0}
MIXED_RANGE = (0.25, 2.5)
CALIBRATION_RESOURCE = "jitter_calibration.json"

#: Joint classes; every joint of every layout falls in exactly one (see :func:`joint_class`).
JOINT_CLASSES = ("face", "torso", "shoulder", "elbow", "wrist", "hip", "knee", "ankle")

# 2d jitter std per class relative to body size. PLACEHOLDER values (our guess of a
# MediaPipe/RTMPose-like detector on a steady video), used only until
# jitter_calibration.json (measured by examples/calibrate_jitter.py) is present.
_PLACEHOLDER_JITTER_2D = {
    "face": 0.004,
    "torso": 0.004,
    "shoulder": 0.004,
    "elbow": 0.006,
    "wrist": 0.009,
    "hip": 0.005,
    "knee": 0.006,
    "ankle": 0.008,
}
_PLACEHOLDER_RHO_2D = 0.3
# Which joint jumps (relative chance per class): extremities more often. Placeholder; with the
# calibration file present, the measured outlier rate per joint class is used instead.
_PLACEHOLDER_JUMP_WEIGHT = {
    "face": 1.0,
    "torso": 1.0,
    "shoulder": 1.0,
    "elbow": 2.0,
    "wrist": 3.0,
    "hip": 1.0,
    "knee": 2.0,
    "ankle": 3.0,
}
# 3d lifter jitter per class (x and y; z gets depth_factor more), chosen so that the
# acceleration error of "medium" on our test clips is near FCN's 19 mm/frame^2 on Human3.6M
# (see docs/DATA_CARD.md for the measured value).
_JITTER_3D = {
    "face": 0.0016,
    "torso": 0.0012,
    "shoulder": 0.0014,
    "elbow": 0.002,
    "wrist": 0.0028,
    "hip": 0.0014,
    "knee": 0.0018,
    "ankle": 0.0024,
}
# SMPL regressor rotation jitter per class, degrees of rotation vector noise per axis.
_JITTER_SMPL_DEG = {
    "face": 2.5,
    "torso": 1.0,
    "shoulder": 2.0,
    "elbow": 3.0,
    "wrist": 5.0,
    "hip": 1.5,
    "knee": 2.5,
    "ankle": 4.0,
}


def joint_class(name: str) -> str:
    """The class of a joint name (``JOINT_CLASSES``), for per-class noise.

    Hands, fingers and thumbs count as wrists, feet, toes and heels as ankles, collars as
    shoulders, neck / spine / thorax / pelvis / mid hip as torso, head and face points as face.
    """
    n = name.lower()
    for keys, cls in (
        (("wrist", "hand", "pinky", "index", "thumb"), "wrist"),
        (("ankle", "foot", "toe", "heel"), "ankle"),
        (("knee",), "knee"),
        (("elbow",), "elbow"),
        (("shoulder", "collar"), "shoulder"),
        (("mid_hip", "pelvis", "spine", "thorax", "neck"), "torso"),
        (("hip",), "hip"),
        (("nose", "eye", "ear", "mouth", "head"), "face"),
    ):
        if any(k in n for k in keys):
            return cls
    return "torso"


@dataclass(frozen=True)
class PositionParams:
    """Corruption of 2D / 3D joint positions at severity 1; sizes relative to body size B.

    Attributes:
        jitter: per joint class, std of the temporally correlated jitter (fraction of B).
        jitter_rho: lag-1 autocorrelation of the jitter (an AR(1) process per coordinate).
        motion_blur: extra jitter std per unit of the joint's frame-to-frame displacement
            (fast limbs blur: the jitter std of a joint at a frame is
            ``sqrt((jitter * B)^2 + (motion_blur * displacement)^2)``).
        bias: std of the slowly varying bias per joint and coordinate (fraction of B).
        bias_seconds: time constant of the bias (AR(1) with rho = exp(-1 / (seconds * fps))).
        depth_factor: multiplier of jitter, bias, drift and spikes along z (3d only; 1 in 2d).
        occlusion_rate: occlusion events per second per sequence (a limb, a side, the face,
            the lower body; see ``occlusion_groups``).
        occlusion_seconds: duration range of an occlusion.
        occlusion_missing: fraction of occlusions that make the joints missing (NaN); the
            rest drift with low confidence.
        drift_speed: std of the drift velocity of a drifting joint (B per second).
        missed_rate: runs of whole missed frames (no detection) per second.
        missed_frames: length range of those runs, frames.
        swap_rate: left/right swap events per second (legs, lower legs, arms, whole body).
        swap_frames: length range of a swap, frames.
        jump_rate: jump events per second (one joint jumps to a wrong place: the outliers
            of a detector, a few percent of the wrist and ankle frames at severity 1).
        jump_weight: per joint class, relative chance of being the joint that jumps.
        jump_frames: length range of a jump, frames.
        jump_size: range of the jump distance (fraction of B).
        spike_rate: 3d only: whole-body depth spikes per second.
        spike_frames: length range of a spike, frames.
        spike_size: range of the spike along z (fraction of B, sign random).
        source: where ``jitter`` and ``jitter_rho`` came from.
    """

    jitter: dict[str, float]
    jitter_rho: float = 0.3
    motion_blur: float = 0.15
    bias: float = 0.01
    bias_seconds: float = 1.0
    depth_factor: float = 1.0
    occlusion_rate: float = 0.4
    occlusion_seconds: tuple[float, float] = (0.1, 1.0)
    occlusion_missing: float = 0.5
    drift_speed: float = 0.15
    missed_rate: float = 0.05
    missed_frames: tuple[int, int] = (1, 4)
    swap_rate: float = 0.06
    swap_frames: tuple[int, int] = (1, 8)
    jump_rate: float = 1.5
    jump_weight: dict[str, float] = field(default_factory=lambda: dict(_PLACEHOLDER_JUMP_WEIGHT))
    jump_frames: tuple[int, int] = (1, 3)
    jump_size: tuple[float, float] = (0.03, 0.25)
    spike_rate: float = 0.0
    spike_frames: tuple[int, int] = (1, 2)
    spike_size: tuple[float, float] = (0.02, 0.08)
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("jitter", "jump_weight"):
            missing = set(JOINT_CLASSES) - set(getattr(self, name))
            if missing:
                raise ValueError(f"PositionParams.{name} lacks joint classes {sorted(missing)}")
        if not 0.0 <= self.jitter_rho < 1.0:
            raise ValueError(f"jitter_rho must be in [0, 1), got {self.jitter_rho}")


@dataclass(frozen=True)
class SmplParams:
    """Corruption of SMPL local rotations and root translation at severity 1.

    Attributes:
        jitter_deg: per joint class, std (degrees, per rotation-vector axis) of the
            correlated rotation jitter, applied in each joint's local frame.
        jitter_rho: lag-1 autocorrelation of that jitter.
        bias_ratio: std of the slowly varying rotation bias per joint class, as a multiple of
            that class's ``jitter_deg``.
        bias_seconds: its time constant.
        occlusion_rate: events per second in which a limb's rotations drift.
        occlusion_seconds: duration range of those events.
        drift_deg_per_s: std of the drift's angular velocity (degrees per second per axis).
        jump_rate: events per second in which one joint's rotation jumps by ``jump_deg``.
        jump_frames: length range of a jump, frames.
        jump_deg: range of the jump angle about a random axis, degrees.
        flip_rate: events per second in which the global orientation turns 180 degrees
            about the vertical axis.
        flip_frames: length range of a flip, frames.
        trans_jitter: std of the root translation jitter, metres (x and y; z gets
            ``depth_factor`` more).
        trans_bias: std of the slowly varying root translation bias, metres.
        depth_factor: multiplier along z of the translation noise.
        spike_rate: translation spikes along z per second.
        spike_frames: length range of a spike, frames.
        spike_size: range of the spike along z, metres.
    """

    jitter_deg: dict[str, float] = field(default_factory=lambda: dict(_JITTER_SMPL_DEG))
    jitter_rho: float = 0.3
    bias_ratio: float = 1.5
    bias_seconds: float = 1.0
    occlusion_rate: float = 0.2
    occlusion_seconds: tuple[float, float] = (0.1, 1.0)
    drift_deg_per_s: float = 40.0
    jump_rate: float = 0.05
    jump_frames: tuple[int, int] = (1, 3)
    jump_deg: tuple[float, float] = (30.0, 120.0)
    flip_rate: float = 0.03
    flip_frames: tuple[int, int] = (1, 6)
    trans_jitter: float = 0.006
    trans_bias: float = 0.02
    depth_factor: float = 3.0
    spike_rate: float = 0.06
    spike_frames: tuple[int, int] = (1, 2)
    spike_size: tuple[float, float] = (0.05, 0.3)

    def __post_init__(self) -> None:
        missing = set(JOINT_CLASSES) - set(self.jitter_deg)
        if missing:
            raise ValueError(f"SmplParams.jitter_deg lacks joint classes {sorted(missing)}")


# ---------------------------------------------------------------------------------------------
# Defaults and the calibration file


@lru_cache(maxsize=1)
def load_jitter_calibration() -> dict[str, Any] | None:
    """The measured 2d jitter (``hanet_refine/train/jitter_calibration.json``), or None if absent."""
    try:
        text = resources.files("hanet_refine.train").joinpath(CALIBRATION_RESOURCE).read_text("utf-8")
    except (FileNotFoundError, OSError):
        return None
    return json.loads(text)


def _calibrated(calib: dict[str, Any]) -> tuple[dict[str, float], float, dict[str, float]]:
    """Per-class jitter, its lag-1 autocorrelation and per-class jump weights (outlier rates)
    from the calibration's per-joint entries (classes with no entry keep the placeholders)."""
    per_class: dict[str, list[float]] = {}
    outliers: dict[str, list[float]] = {}
    rhos: list[float] = []
    for name, entry in calib.get("joints", {}).items():
        std = entry.get("noise_std_rel")
        if std is None or not math.isfinite(std):
            continue
        cls = joint_class(name)
        per_class.setdefault(cls, []).append(float(std))
        if entry.get("outlier_rate") is not None:
            outliers.setdefault(cls, []).append(float(entry["outlier_rate"]))
        ac = entry.get("autocorrelation")
        lag1 = ac[0] if isinstance(ac, (list, tuple)) else ac
        if isinstance(lag1, (int, float)) and math.isfinite(lag1):
            rhos.append(float(lag1))
    if not per_class:
        raise ValueError(f"{CALIBRATION_RESOURCE} has no per-joint noise_std_rel entries")
    jitter = {cls: float(np.mean(v)) for cls, v in per_class.items()}
    # COCO-17 has no torso joint of its own: take the mean of shoulders and hips.
    if "torso" not in jitter:
        torso = [jitter[c] for c in ("shoulder", "hip") if c in jitter]
        jitter["torso"] = float(np.mean(torso)) if torso else float(np.mean(list(jitter.values())))
    for cls in JOINT_CLASSES:
        jitter.setdefault(cls, _PLACEHOLDER_JITTER_2D[cls])
    rho = float(np.clip(np.median(rhos), 0.0, 0.95)) if rhos else _PLACEHOLDER_RHO_2D
    weight = dict(_PLACEHOLDER_JUMP_WEIGHT)
    if outliers and all(np.mean(v) > 0 for v in outliers.values()):
        rates = {cls: float(np.mean(v)) for cls, v in outliers.items()}
        low = min(rates.values())
        torso = float(np.mean([rates[c] for c in ("shoulder", "hip") if c in rates] or [low]))
        weight = {cls: rates.get(cls, torso) / low for cls in JOINT_CLASSES}
    return jitter, rho, weight


def position_params(kind: str) -> PositionParams:
    """The default :class:`PositionParams` of ``kind`` ("2d" or "3d").

    For "2d" the jitter per joint class (``noise_std_rel``, mean over the class's COCO joints),
    its lag-1 autocorrelation and the relative chance of each class to jump (``outlier_rate``)
    are read from ``jitter_calibration.json`` (real MediaPipe output, see
    docs/jitter_calibration.md) when that file is in the package; otherwise placeholder values
    are used and ``source`` says so. The other parameters are ours (not measured).

    Raises:
        ValueError: for another kind.
    """
    if kind == "2d":
        calib = load_jitter_calibration()
        if calib is None:
            return PositionParams(
                jitter=dict(_PLACEHOLDER_JITTER_2D),
                jitter_rho=_PLACEHOLDER_RHO_2D,
                source="PLACEHOLDER (jitter_calibration.json absent)",
            )
        jitter, rho, weight = _calibrated(calib)
        return PositionParams(
            jitter=jitter,
            jitter_rho=rho,
            jump_weight=weight,
            source=f"{CALIBRATION_RESOURCE}: {calib.get('source', 'unknown source')}",
        )
    if kind == "3d":
        return PositionParams(
            jitter=dict(_JITTER_3D),
            jitter_rho=0.3,
            motion_blur=0.05,
            bias=0.015,
            depth_factor=2.5,
            occlusion_missing=0.25,
            jump_rate=0.5,
            spike_rate=0.1,
            source="our 3d defaults",
        )
    raise ValueError(
        f"kind must be '2d' or '3d' for position corruption, got {kind!r} (use corrupt_smpl for 'smpl')"
    )


# ---------------------------------------------------------------------------------------------
# Helpers


def severity_array(severity: str | float | np.ndarray, batch: int, rng: np.random.Generator) -> np.ndarray:
    """Severity per sequence, ``(batch,)`` float64.

    Args:
        severity: a name in ``SEVERITIES``, ``"mixed"`` (log-uniform in [0.25, 2.5] per
            sequence, drawn from ``rng``), a non-negative float (also as text, as a command
            line gives it: ``"1.5"``) or a ``(batch,)`` array.

    Raises:
        ValueError: for an unknown name, a negative value or a wrong shape.
    """
    if isinstance(severity, str):
        if severity == "mixed":
            lo, hi = np.log(MIXED_RANGE[0]), np.log(MIXED_RANGE[1])
            return np.exp(rng.uniform(lo, hi, size=batch))
        if severity in SEVERITIES:
            return np.full(batch, SEVERITIES[severity])
        try:
            severity = float(severity)
        except ValueError:
            raise ValueError(
                f"severity must be one of {sorted(SEVERITIES) + ['mixed']} or a float >= 0, got {severity!r}"
            ) from None
    arr = np.asarray(severity, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(batch, float(arr))
    if arr.shape != (batch,) or not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError(f"severity must be a float >= 0 or a ({batch},) array of them, got {severity!r}")
    return arr


def body_size(points: np.ndarray) -> np.ndarray:
    """Body size per sequence: median over frames of the joints' bounding-box diagonal.

    NaN joints are ignored; a sequence with no finite frame gets NaN.

    Shape:
        ``(B, T, J, D)`` -> ``(B,)``.
    """
    points = np.asarray(points, dtype=np.float64)
    if np.isfinite(points).all():
        # Loop over joints: numpy's reductions over a short middle axis are slow.
        hi, lo = points[:, :, 0].copy(), points[:, :, 0].copy()
        for j in range(1, points.shape[2]):
            np.maximum(hi, points[:, :, j], out=hi)
            np.minimum(lo, points[:, :, j], out=lo)
        return np.median(_norm(hi - lo), axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames give NaN, as documented
        diag = np.linalg.norm(np.nanmax(points, axis=2) - np.nanmin(points, axis=2), axis=-1)
        return np.nanmedian(diag, axis=1)


def _ar1(white: np.ndarray, rho: float) -> np.ndarray:
    """Stationary unit-variance AR(1) along axis 0 of white noise (overwritten and returned).

    A Python loop over time on time-major arrays: for the short windows of training it is
    several times faster than ``scipy.signal.lfilter`` along a middle axis.
    """
    if rho == 0.0:
        return white
    gain = white.dtype.type(math.sqrt(1.0 - rho * rho))
    r = white.dtype.type(rho)
    for i in range(1, white.shape[0]):
        white[i] *= gain
        white[i] += r * white[i - 1]
    return white


def _slow_noise(
    rng: np.random.Generator, shape: tuple[int, ...], seconds: float, fps: float, dtype: type, stride: int = 5
) -> np.ndarray:
    """Smooth unit-variance noise, time-major ``shape`` = (T, ...): an AR(1) process of time
    constant ``seconds`` drawn every ``stride`` frames and linearly interpolated in between
    (the bias varies over about a second, so the knots lose nothing and save random numbers).
    """
    t = shape[0]
    knots = (t - 1) // stride + 2
    rho = math.exp(-stride / (seconds * fps))
    coarse = _ar1(rng.standard_normal((knots,) + tuple(shape[1:]), dtype=dtype), rho)
    # Linear interpolation as one (T, knots) matrix product (BLAS), not two gathers.
    pos = np.arange(t) / stride
    i0 = pos.astype(np.int64)
    w = pos - i0
    interp = np.zeros((t, knots), dtype=dtype)
    interp[np.arange(t), i0] = 1.0 - w
    interp[np.arange(t), i0 + 1] = w
    return (interp @ coarse.reshape(knots, -1)).reshape(shape)


def _gather(x: np.ndarray, frame: np.ndarray | None = None, joint: np.ndarray | None = None) -> np.ndarray:
    """``x[b, frame[b,t,j], joint[b,t,j]]`` for ``x`` (B, T, J, D) (None keeps t / j): one flat take."""
    b, t, j, d = x.shape
    frame = np.arange(t)[None, :, None] if frame is None else frame
    joint = np.arange(j)[None, None, :] if joint is None else joint
    flat = (np.arange(b)[:, None, None] * t + frame) * j + joint
    return np.take(x.reshape(-1, d), flat.ravel(), axis=0).reshape(b, t, j, d)


def _norm(x: np.ndarray) -> np.ndarray:
    """Euclidean norm over a short last axis (np.linalg.norm is slow for D = 2 or 3)."""
    out = x[..., 0] * x[..., 0]
    for i in range(1, x.shape[-1]):
        out += x[..., i] * x[..., i]
    return np.sqrt(out)


def _durations(
    rng: np.random.Generator, shape: tuple[int, ...], frames: tuple[float, float], stretch: np.ndarray
) -> np.ndarray:
    lo, hi = frames
    dur = rng.uniform(lo, hi + 1.0, size=shape) * stretch[:, None]
    return np.maximum(np.floor(dur), 1).astype(np.int64)


def _events(
    rng: np.random.Generator,
    rate_per_frame: np.ndarray,
    t: int,
    frames: tuple[float, float],
    stretch: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random intervals per sequence: ``(start (B,K), stop (B,K), active (B,K))``.

    Events are a Poisson process in time, so one can begin before the window (and be cut by it).
    """
    b = rate_per_frame.shape[0]
    mean_dur = 0.5 * (frames[0] + frames[1]) * stretch
    counts = rng.poisson(rate_per_frame * (t + mean_dur))
    k = max(int(counts.max(initial=0)), 1)
    dur = _durations(rng, (b, k), frames, stretch)
    start = np.floor(rng.uniform(size=(b, k)) * (t + dur - 1)).astype(np.int64) - (dur - 1)
    active = np.arange(k)[None, :] < counts[:, None]
    return start, start + dur, active


def _time_mask(start: np.ndarray, stop: np.ndarray, active: np.ndarray, t: int) -> np.ndarray:
    frames = np.arange(t)
    return active[..., None] & (start[..., None] <= frames) & (frames < stop[..., None])  # (B, K, T)


def _combine(time_mask: np.ndarray, joint_mask: np.ndarray) -> np.ndarray:
    """(B,K,T) x (B,K,J) -> (B,T,J): True where some event covers both the frame and the joint."""
    return np.matmul(time_mask.transpose(0, 2, 1).astype(np.float32), joint_mask.astype(np.float32)) > 0.5


def _groups(layout: Layout, patterns: tuple[tuple[str, ...], ...]) -> np.ndarray:
    """(G, J) masks: for each side-aware pattern tuple, the joints whose class is in it."""
    classes = [joint_class(n) for n in layout.joints]
    rows = []
    for pattern in patterns:
        sides = [s for s in pattern if s in ("left", "right")]
        wanted = [c for c in pattern if c not in ("left", "right")]
        row = np.array(
            [
                classes[j] in wanted
                and (not sides or any(layout.joints[j].startswith(s + "_") for s in sides))
                for j in range(layout.num_joints)
            ]
        )
        if row.any():
            rows.append(row)
    return np.array(rows, dtype=bool).reshape(-1, layout.num_joints)


@lru_cache(maxsize=32)
def occlusion_groups(layout: Layout) -> np.ndarray:
    """Joint sets that an occlusion hides together, ``(G, J)`` bool.

    Per side: the wrist, the forearm, the whole arm, the ankle, the shin, the whole leg, the
    whole side (a person seen side-on); plus the face, the trunk's middle joints (neck, spine,
    pelvis, mid hip: something in front of the body) and the lower body (cut by the image edge
    or behind furniture).
    """
    patterns: list[tuple[str, ...]] = []
    for side in ("left", "right"):
        patterns += [
            (side, "wrist"),
            (side, "elbow", "wrist"),
            (side, "shoulder", "elbow", "wrist"),
            (side, "ankle"),
            (side, "knee", "ankle"),
            (side, "hip", "knee", "ankle"),
            (side, "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "face"),
        ]
    patterns += [("face",), ("torso",), ("hip", "knee", "ankle")]
    return _groups(layout, tuple(patterns))


@lru_cache(maxsize=32)
def swap_groups(layout: Layout) -> np.ndarray:
    """Joint sets whose left/right positions get exchanged together, ``(G, J)`` bool.

    Both legs, both lower legs, both arms, the whole body (only joints with a mirror twin).
    """
    paired = np.array(layout.flip_index) != np.arange(layout.num_joints)
    groups = _groups(
        layout,
        (
            ("hip", "knee", "ankle"),
            ("knee", "ankle"),
            ("elbow", "wrist"),
            ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "face"),
        ),
    )
    groups &= paired[None, :]
    return groups[groups.any(axis=1)]


def _class_values(layout: Layout, table: dict[str, float]) -> np.ndarray:
    return np.array([table[joint_class(n)] for n in layout.joints], dtype=np.float64)


def _choose(rng: np.random.Generator, groups: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return groups[rng.integers(groups.shape[0], size=shape)]  # (B, K, J)


# ---------------------------------------------------------------------------------------------
# Positions (2d, 3d)


def corrupt(
    clean: np.ndarray,
    *,
    kind: str,
    layout: str | Layout,
    rng: np.random.Generator,
    severity: str | float | np.ndarray = "medium",
    fps: float = 30.0,
    params: PositionParams | None = None,
    size: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Corrupt clean 2D (pixels) or 3D (metres, z = depth) joint positions.

    Args:
        clean: clean positions; finite.
        kind: "2d" or "3d" (3d: z errors are ``depth_factor`` larger, plus depth spikes).
        layout: the joint layout (its names set the per-joint noise and the left/right pairs).
        rng: the only source of randomness; the same generator state gives the same output.
        severity: see :func:`severity_array`.
        fps: frame rate (event rates and durations are per second).
        params: the corruption at severity 1; default :func:`position_params` ``(kind)``.
        size: body size per sequence ``(B,)``; default :func:`body_size` of ``clean``.

    Returns:
        ``noisy`` (clean's float dtype; NaN where missing), ``confidence`` (B, T, J) float32
        in [0, 1], ``occluded`` and ``failed`` (B, T, J) bool, ``severity`` (B,) float32, and
        ``bias`` (like ``noisy``): the slowly varying bias alone, which no temporal method can
        tell from the motion (``clean + bias`` is the evaluation's "bias only" row).

    Raises:
        ValueError: on a bad shape, kind, layout mismatch, non-finite input or bad severity.

    Shape:
        clean: ``(B, T, J, D)`` with D = 2 (2d) or 3 (3d).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> clean = np.zeros((4, 30, 17, 2)) + np.linspace(0, 200, 17)[:, None]
        >>> out = corrupt(clean, kind="2d", layout="coco17", rng=rng, severity="high")
        >>> out["noisy"].shape, out["confidence"].shape
        ((4, 30, 17, 2), (4, 30, 17))
    """
    lay = get_layout(layout)
    if kind not in ("2d", "3d"):
        raise ValueError(f"kind must be '2d' or '3d', got {kind!r} (SMPL rotations: corrupt_smpl)")
    d_expected = 2 if kind == "2d" else 3
    clean = np.asarray(clean)
    if clean.ndim != 4 or clean.shape[2] != lay.num_joints or clean.shape[3] != d_expected:
        raise ValueError(
            f"clean for kind={kind!r} and layout {lay.name!r} must have shape "
            f"(B, T, {lay.num_joints}, {d_expected}), got {clean.shape}"
        )
    if not np.isfinite(clean).all():
        raise ValueError("clean positions must be finite; corruption adds the missing joints itself")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    params = position_params(kind) if params is None else params
    dtype = clean.dtype if np.issubdtype(clean.dtype, np.floating) else np.float64
    b, t, j, d = clean.shape
    sev = severity_array(severity, b, rng)
    size = body_size(clean) if size is None else np.asarray(size, dtype=np.float64)
    if size.shape != (b,) or not (size > 0).all():
        raise ValueError(f"size must be a ({b},) array of positive body sizes, got {np.shape(size)}")
    stretch = np.sqrt(sev)
    wd = np.float32 if dtype == np.float32 else np.float64  # working precision follows the input
    unit = (sev * size).astype(wd)[:, None, None, None]  # severity-scaled body size
    axis_gain = np.ones(d, dtype=wd)
    if kind == "3d":
        axis_gain[2] = params.depth_factor

    # Jitter and slowly varying bias, both AR(1) per joint and coordinate.
    jit = _ar1(rng.standard_normal((t, b, j, d), dtype=wd), params.jitter_rho).transpose(1, 0, 2, 3)
    std = np.broadcast_to(_class_values(lay, params.jitter).astype(wd), (b, t, j))
    if params.motion_blur > 0 and t > 1:
        step = _norm(np.diff(clean, axis=1).astype(wd)) / size.astype(wd)[:, None, None]  # (B, T-1, J)
        step = np.concatenate([step[:, :1], step], axis=1)
        std = np.sqrt(std * std + (wd(params.motion_blur) * step) ** 2)
    jit *= std[..., None]
    bias = wd(params.bias) * _slow_noise(rng, (t, b, j, d), params.bias_seconds, fps, wd).transpose(1, 0, 2, 3)
    bias *= axis_gain * unit
    offset = jit * (axis_gain * unit) + bias
    noisy = offset + clean  # a new array in the working precision

    # Occlusions: a set of joints is missing or drifting for a while.
    occ_frames = (params.occlusion_seconds[0] * fps, params.occlusion_seconds[1] * fps)
    start, stop, active = _events(rng, sev * params.occlusion_rate / fps, t, occ_frames, stretch)
    joints = _choose(rng, occlusion_groups(lay), start.shape)
    missing_event = rng.uniform(size=start.shape) < params.occlusion_missing
    tmask = _time_mask(start, stop, active, t)
    missing = _combine(tmask & missing_event[..., None], joints)
    drifting = _combine(tmask & ~missing_event[..., None], joints)
    if drifting.any():
        # The joint holds where it was when its (latest) occlusion began, then slides away.
        cover = tmask[:, :, :, None] & joints[:, :, None, :] & ~missing_event[:, :, None, None]
        hold = np.where(cover, np.clip(start, 0, t - 1)[:, :, None, None], 0).max(axis=1)  # (B,T,J)
        held = _gather(clean, frame=hold).astype(wd)
        velocity = rng.standard_normal((b, 1, j, d), dtype=wd) * (params.drift_speed / fps) * axis_gain
        since = (np.arange(t)[None, :, None] - hold).astype(wd)[..., None]
        noisy = np.where(drifting[..., None], held + velocity * since * unit + offset, noisy)

    # Left/right swaps: a paired joint takes its twin's (noisy) position.
    failed = np.zeros((b, t, j), dtype=bool)
    pairs = swap_groups(lay)
    if pairs.shape[0]:
        start, stop, active = _events(rng, sev * params.swap_rate / fps, t, params.swap_frames, stretch)
        swapped = _combine(_time_mask(start, stop, active, t), _choose(rng, pairs, start.shape))
        if swapped.any():
            index = np.where(swapped, np.array(lay.flip_index)[None, None, :], np.arange(j)[None, None, :])
            noisy = _gather(noisy, joint=index)
            failed |= swapped

    # Jumps: one joint lands somewhere else for a few frames.
    start, stop, active = _events(rng, sev * params.jump_rate / fps, t, params.jump_frames, stretch)
    weight = _class_values(lay, params.jump_weight)
    which = np.eye(j, dtype=bool)[rng.choice(j, size=start.shape, p=weight / weight.sum())]  # (B, K, J)
    direction = rng.standard_normal(start.shape + (d,))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    dist = rng.uniform(*params.jump_size, size=start.shape)[..., None] * direction * axis_gain
    tmask = _time_mask(start, stop, active, t)
    failed |= _combine(tmask, which)
    jump = np.matmul(
        tmask.transpose(0, 2, 1).astype(wd),
        (which[..., None] * dist[:, :, None, :]).reshape(b, -1, j * d).astype(wd),
    )
    jump = jump.reshape(b, t, j, d)
    # Depth spikes (3d): the whole body jumps along z.
    if params.spike_rate > 0 and kind == "3d":
        start, stop, active = _events(rng, sev * params.spike_rate / fps, t, params.spike_frames, stretch)
        amount = rng.choice([-1.0, 1.0], size=start.shape) * rng.uniform(*params.spike_size, size=start.shape)
        smask = _time_mask(start, stop, active, t)
        jump[..., 2] += (smask * amount[..., None]).sum(axis=1)[..., None] * params.depth_factor
        failed |= smask.any(axis=1)[..., None]
    noisy += jump * (size * stretch).astype(wd)[:, None, None, None]

    # Whole missed frames.
    start, stop, active = _events(rng, sev * params.missed_rate / fps, t, params.missed_frames, stretch)
    missing |= _time_mask(start, stop, active, t).any(axis=1)[..., None]
    occluded = missing | drifting
    failed &= ~missing

    # Confidence, falling with the error, low when drifting or failed, 0 when missing.
    u = rng.uniform(size=(b, t, j)).astype(np.float32)
    err = _norm(noisy - clean) / size.astype(wd)[:, None, None]
    conf = (0.98 * np.exp(-err / 0.08)).astype(np.float32) * (0.85 + 0.15 * u)
    conf = np.where(failed, 0.1 + 0.6 * u, conf)
    conf = np.where(drifting, 0.05 + 0.45 * u, conf)
    conf[missing] = 0.0
    noisy[missing] = np.nan
    return {
        "noisy": noisy.astype(dtype, copy=False),
        "confidence": np.clip(conf, 0.0, 1.0),
        "occluded": occluded,
        "failed": failed,
        "severity": sev.astype(np.float32),
        "bias": bias.astype(dtype, copy=False),
    }


# ---------------------------------------------------------------------------------------------
# SMPL rotations


def _rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    shape = rotvec.shape[:-1]
    return Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(shape + (3, 3))


def corrupt_smpl(
    rotations: np.ndarray,
    root_translation: np.ndarray,
    *,
    rng: np.random.Generator,
    severity: str | float | np.ndarray = "medium",
    fps: float = 30.0,
    params: SmplParams | None = None,
    layout: str | Layout = "smpl24",
) -> dict[str, np.ndarray]:
    """Corrupt SMPL local joint rotations and root translation like a video SMPL regressor.

    Every joint gets correlated rotation-vector jitter and a slowly varying bias in its local
    frame (``R_noisy = R @ exp(noise)``); occlusions make a limb's rotations drift; one joint's
    rotation sometimes jumps; the global orientation (joint 0) sometimes turns 180 degrees
    about the vertical axis for a few frames; the root translation gets jitter, bias and
    spikes, larger along z (depth). Nothing is NaN: regressors always answer.

    Args:
        rotations: local rotation matrices; joint 0 is the global orientation (y up).
        root_translation: metres.
        rng: random generator.
        severity: see :func:`severity_array`.
        fps: frame rate.
        params: default :class:`SmplParams` ().
        layout: the joint layout (classes and limbs from its names), default "smpl24".

    Returns:
        ``rotations`` (B, T, J, 3, 3) and ``root_translation`` (B, T, 3) in the input's float
        dtype, ``occluded`` / ``failed`` (B, T, J) bool, ``severity`` (B,) float32.

    Raises:
        ValueError: on bad shapes, non-finite input or a bad severity.

    Shape:
        rotations ``(B, T, J, 3, 3)``, root_translation ``(B, T, 3)``.
    """
    lay = get_layout(layout)
    rotations = np.asarray(rotations)
    root_translation = np.asarray(root_translation)
    if rotations.ndim != 5 or rotations.shape[2:] != (lay.num_joints, 3, 3):
        raise ValueError(f"rotations must have shape (B, T, {lay.num_joints}, 3, 3), got {rotations.shape}")
    b, t, j = rotations.shape[:3]
    if root_translation.shape != (b, t, 3):
        raise ValueError(f"root_translation must have shape ({b}, {t}, 3), got {root_translation.shape}")
    if not (np.isfinite(rotations).all() and np.isfinite(root_translation).all()):
        raise ValueError("rotations and root_translation must be finite")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    params = SmplParams() if params is None else params
    dtype = rotations.dtype if np.issubdtype(rotations.dtype, np.floating) else np.float64
    sev = severity_array(severity, b, rng)
    stretch = np.sqrt(sev)
    s4 = sev[:, None, None, None]

    wd = np.float32 if dtype == np.float32 else np.float64
    jitter = _ar1(rng.standard_normal((t, b, j, 3), dtype=wd), params.jitter_rho)  # time-major
    jitter += wd(params.bias_ratio) * _slow_noise(rng, (t, b, j, 3), params.bias_seconds, fps, wd)
    jitter *= np.deg2rad(_class_values(lay, params.jitter_deg)).astype(wd)[None, None, :, None]
    rotvec = jitter.transpose(1, 0, 2, 3) * s4.astype(wd)

    # Occlusions: a limb's rotations drift away linearly from the event's start.
    occ_frames = (params.occlusion_seconds[0] * fps, params.occlusion_seconds[1] * fps)
    start, stop, active = _events(rng, sev * params.occlusion_rate / fps, t, occ_frames, stretch)
    groups = occlusion_groups(lay)
    joints = _choose(rng, groups, start.shape)
    tmask = _time_mask(start, stop, active, t)
    since = np.where(tmask, np.arange(t)[None, None, :] - np.maximum(start, 0)[..., None], 0).astype(wd)
    velocity = rng.standard_normal(start.shape + (3,), dtype=wd) * wd(
        np.deg2rad(params.drift_deg_per_s) / fps
    )
    drift = np.matmul(
        since.transpose(0, 2, 1), (joints[..., None] * velocity[:, :, None, :]).reshape(b, -1, j * 3)
    )
    rotvec += drift.reshape(b, t, j, 3) * s4.astype(wd)
    occluded = _combine(tmask, joints)

    # Jumps: one joint's rotation is off by a large angle for a few frames.
    start, stop, active = _events(rng, sev * params.jump_rate / fps, t, params.jump_frames, stretch)
    which = np.eye(j, dtype=bool)[rng.integers(1, j, size=start.shape)]  # joint 0 flips instead
    axis = rng.standard_normal(start.shape + (3,))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = np.deg2rad(rng.uniform(*params.jump_deg, size=start.shape))[..., None]
    tmask = _time_mask(start, stop, active, t)
    jump = np.matmul(
        tmask.transpose(0, 2, 1).astype(np.float64),
        (which[..., None] * (axis * angle)[:, :, None, :]).reshape(b, -1, j * 3),
    )
    rotvec += jump.reshape(b, t, j, 3).astype(wd)
    failed = _combine(tmask, which)

    noisy = rotations.astype(wd, copy=False) @ _rotvec_to_matrix(rotvec).astype(wd)

    # Flips of the global orientation: 180 degrees about the world vertical.
    start, stop, active = _events(rng, sev * params.flip_rate / fps, t, params.flip_frames, stretch)
    flipped = _time_mask(start, stop, active, t).any(axis=1)  # (B, T)
    if flipped.any():
        turn = np.diag([-1.0, 1.0, -1.0])
        noisy[:, :, 0] = np.where(flipped[..., None, None], turn @ noisy[:, :, 0], noisy[:, :, 0])
        failed |= flipped[..., None]

    # Root translation.
    gain = np.array([1.0, 1.0, params.depth_factor])
    trans_noise = _ar1(rng.standard_normal((t, b, 3)), params.jitter_rho) * params.trans_jitter
    trans_noise += _slow_noise(rng, (t, b, 3), params.bias_seconds, fps, np.float64) * params.trans_bias
    trans_noise = trans_noise.transpose(1, 0, 2)
    start, stop, active = _events(rng, sev * params.spike_rate / fps, t, params.spike_frames, stretch)
    amount = rng.choice([-1.0, 1.0], size=start.shape) * rng.uniform(*params.spike_size, size=start.shape)
    smask = _time_mask(start, stop, active, t)
    spikes = (smask * amount[..., None]).sum(axis=1)
    trans = root_translation.astype(np.float64) + trans_noise * gain * sev[:, None, None]
    trans[..., 2] += spikes * stretch[:, None]
    failed |= smask.any(axis=1)[..., None]
    return {
        "rotations": noisy.astype(dtype, copy=False),
        "root_translation": trans.astype(
            root_translation.dtype if np.issubdtype(root_translation.dtype, np.floating) else np.float64,
            copy=False,
        ),
        "occluded": occluded,
        "failed": failed,
        "severity": sev.astype(np.float32),
    }


# ---------------------------------------------------------------------------------------------
# The protocol table


def _fmt_range(r: tuple[float, float], scale: float = 1.0, unit: str = "") -> str:
    return f"{r[0] * scale:.3g}-{r[1] * scale:.3g}{unit}"


def _fmt_frames(r: tuple[float, float], stretch: float) -> str:
    """The frame counts :func:`_durations` really draws for range ``r`` at ``stretch``."""
    lo = max(1, math.floor(r[0] * stretch))
    hi = max(lo, math.ceil((r[1] + 1.0) * stretch) - 1)
    return f"{lo}-{hi}"


def protocol_table() -> str:
    """The corruption protocol at severities low / medium / high as a markdown table.

    Rates and magnitudes scale with severity s; durations with sqrt(s).
    """
    p2, p3, ps = position_params("2d"), position_params("3d"), SmplParams()
    sevs = [("low", SEVERITIES["low"]), ("medium", SEVERITIES["medium"]), ("high", SEVERITIES["high"])]

    def row(label: str, fn) -> str:
        return "| " + label + " | " + " | ".join(fn(s) for _, s in sevs) + " |"

    def per_class(table: dict[str, float], s: float, fmt: str) -> str:
        return ", ".join(f"{c} {table[c] * s:{fmt}}" for c in ("torso", "hip", "wrist", "ankle"))

    lines = [
        "| corruption | " + " | ".join(f"{n} (s = {s:g})" for n, s in sevs) + " |",
        "|---|" + "---|" * len(sevs),
    ]
    lines += [
        row(
            "2d jitter std (x B; AR(1) rho " + f"{p2.jitter_rho:.2f})",
            lambda s: per_class(p2.jitter, s, ".4f"),
        ),
        row(
            "motion blur: extra jitter std per frame-to-frame displacement (2d / 3d)",
            lambda s: f"{p2.motion_blur * s:.3g} / {p3.motion_blur * s:.3g}",
        ),
        row(
            "3d jitter std (x B; x, y; z x" + f"{p3.depth_factor:g})",
            lambda s: per_class(p3.jitter, s, ".4f"),
        ),
        row(
            f"bias std (x B), time constant {p2.bias_seconds:g} s (3d: {p3.bias:g}, z x{p3.depth_factor:g})",
            lambda s: f"{p2.bias * s:.4f}",
        ),
        row(
            "occlusions per second (a limb, a side, the face, the lower body)",
            lambda s: f"{p2.occlusion_rate * s:.3g}",
        ),
        row(
            "occlusion duration, s (2d: " + f"{p2.occlusion_missing:.0%} missing, 3d: "
            f"{p3.occlusion_missing:.0%}; the rest drift)",
            lambda s: _fmt_range(p2.occlusion_seconds, math.sqrt(s)),
        ),
        row("drift speed std (x B per s)", lambda s: f"{p2.drift_speed * s:.3g}"),
        row(
            "missed-frame runs per second (length, frames)",
            lambda s: f"{p2.missed_rate * s:.3g} ({_fmt_frames(p2.missed_frames, math.sqrt(s))})",
        ),
        row(
            "left/right swaps per second (length, frames)",
            lambda s: f"{p2.swap_rate * s:.3g} ({_fmt_frames(p2.swap_frames, math.sqrt(s))})",
        ),
        row(
            f"jumps per second (3d: x{p3.jump_rate / p2.jump_rate:.2g}) (length, frames; distance x B); "
            "which joint, relative: "
            + ", ".join(f"{c} {p2.jump_weight[c]:.2g}" for c in ("hip", "wrist", "ankle")),
            lambda s: (
                f"{p2.jump_rate * s:.3g} ({_fmt_frames(p2.jump_frames, math.sqrt(s))}; "
                f"{_fmt_range(p2.jump_size, math.sqrt(s))})"
            ),
        ),
        row(
            "3d depth spikes per second (size x B along z)",
            lambda s: (
                f"{p3.spike_rate * s:.3g} ({_fmt_range(p3.spike_size, math.sqrt(s) * p3.depth_factor)})"
            ),
        ),
        row(
            "smpl rotation jitter std, deg (AR(1) rho " + f"{ps.jitter_rho:.2f})",
            lambda s: per_class(ps.jitter_deg, s, ".2g"),
        ),
        row(
            f"smpl rotation bias std, deg (x{ps.bias_ratio:g} the jitter), "
            f"time constant {ps.bias_seconds:g} s",
            lambda s: per_class({c: ps.bias_ratio * v for c, v in ps.jitter_deg.items()}, s, ".2g"),
        ),
        row(
            "smpl limb drift events per second (drift std, deg/s)",
            lambda s: f"{ps.occlusion_rate * s:.3g} ({ps.drift_deg_per_s * s:.3g})",
        ),
        row(
            "smpl joint rotation jumps per second (angle, deg)",
            lambda s: f"{ps.jump_rate * s:.3g} ({_fmt_range(ps.jump_deg)})",
        ),
        row(
            "smpl 180-degree flips of the global orientation per second (frames)",
            lambda s: f"{ps.flip_rate * s:.3g} ({_fmt_frames(ps.flip_frames, math.sqrt(s))})",
        ),
        row(
            "smpl root translation jitter / bias std, m (z x" + f"{ps.depth_factor:g})",
            lambda s: f"{ps.trans_jitter * s:.3g} / {ps.trans_bias * s:.3g}",
        ),
        row(
            "smpl root depth spikes per second (length, frames; size along z, m)",
            lambda s: (
                f"{ps.spike_rate * s:.3g} ({_fmt_frames(ps.spike_frames, math.sqrt(s))}; "
                f"{_fmt_range(ps.spike_size, math.sqrt(s))})"
            ),
        ),
    ]
    return "\n".join(lines)


# The module docstring shows the table of the parameters actually in use (calibration included).
if __doc__:
    __doc__ = __doc__.replace("{protocol}", protocol_table())

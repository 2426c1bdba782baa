"""Measuring the jitter of a pose estimator from its output alone (no ground truth).

Human motion has most of its power below ~6 Hz, while the frame-to-frame jitter of a per-frame
estimator is broadband. So the part of a keypoint track above a cutoff is, to a good
approximation, noise. :func:`estimate_jitter` measures it three ways:

1. Low-pass residual. Each contiguous run of a joint's track is filtered with a zero-phase
   Butterworth low-pass (``scipy.signal.sosfiltfilt``); the residual ``x - lowpass(x)`` holds
   the noise above the cutoff plus a little fast motion. Its robust standard deviation
   (1.4826 x median absolute deviation) is divided by the fraction of noise power that the
   residual keeps, computed exactly from the filter's interior impulse response. That
   fraction depends on the noise spectrum, so the noise is modelled as AR(1) (first-order
   autoregressive, coefficient ``phi``; ``phi = 0`` is white noise) and ``phi`` is fitted to
   the residual's measured autocorrelation at lags 1..``max_lag``.
2. Second differences ``x[t+1] - 2 x[t] + x[t-1]`` (a cross-check that needs no filter): for
   AR(1) noise their variance is ``sigma^2 (6 - 8 phi + 2 phi^2)``; fast motion inflates them.
3. Outliers: points whose 2D/3D residual, in units of the joint's robust sigma, exceeds
   ``outlier_sigma`` of the low-pass of the other points. Found one local peak at a time: the
   low-pass is redone as if the flagged points were absent (see :func:`_fit_without`) and the
   next peaks are looked for, until none is left (at most ``iterations`` rounds); so a gross
   error neither gets its neighbours flagged nor hides its own size.

Frames within ``ceil(fps / (2 cutoff))`` of either end of a run are left out of every
statistic (the filter's edge handling changes the residual there). Runs too short for that
are skipped and counted.

What this cannot see: error below the cutoff (a slow drift or a constant bias) looks like
motion. The numbers describe the *jitter*, not the total error. The AR(1) fit is fragile: the
residual autocorrelation changes little with ``phi`` above ~0.3, and the little fast motion
that leaks through the filter pulls the fit upwards (on motion capture plus AR(1) noise of
known ``phi``, 0.3 came out as 0.46 and 0.5 as 0.98; see docs/jitter_calibration.md). On real
motion prefer ``noise_std_white``: the std of white noise with the same power above the
cutoff, which does not depend on the fit and was recovered within 7% in that test.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import signal

from ..layouts import Layout, get_layout

__all__ = [
    "COCO17_GROUPS",
    "JitterReport",
    "JitterStats",
    "body_size",
    "estimate_jitter",
    "residual_power",
    "run_median",
]

logger = logging.getLogger(__name__)

_MAX_CLUSTER = 64  # largest group of nearby outliers bridged exactly (a dense solve)
_MAD_TO_STD = 1.482602218505602  # 1 / Phi^-1(3/4): MAD of a Gaussian times this is its std

#: Joint groups of COCO-17 used in the calibration report.
COCO17_GROUPS: dict[str, tuple[str, ...]] = {
    "face": ("nose", "left_eye", "right_eye", "left_ear", "right_ear"),
    "shoulders": ("left_shoulder", "right_shoulder"),
    "elbows": ("left_elbow", "right_elbow"),
    "wrists": ("left_wrist", "right_wrist"),
    "hips": ("left_hip", "right_hip"),
    "knees": ("left_knee", "right_knee"),
    "ankles": ("left_ankle", "right_ankle"),
}


@dataclass(frozen=True)
class JitterStats:
    """Jitter of one joint or of a pooled group of joints.

    Standard deviations are per coordinate, in the units of the input divided by ``scale``.

    Attributes:
        noise_std: low-pass residual estimate, corrected for the filter with the fitted AR(1).
        noise_std_white: the same, assuming white noise (std of white noise with the same
            jitter above the cutoff; independent of the AR(1) fit).
        noise_std_d2: second-difference estimate, corrected with the fitted AR(1).
        noise_std_d2_white: second-difference estimate assuming white noise.
        noise_ar1: AR(1) coefficient of the noise (0 = white) used for the corrections: fitted
            on all joints pooled when ``shared_ar1`` (the default), else on this set alone.
        residual_autocorr: measured (robust) autocorrelation of the low-pass residual at lags
            1..max_lag (compare with :attr:`JitterReport.residual_autocorr_white`).
        tail_ratio: std of the inlier residuals over their robust (MAD) std; 1 for Gaussian
            noise, larger for heavier tails.
        outlier_rate: fraction of the measured points that were outliers.
        outlier_median: median residual norm of the outliers (NaN if none).
        gross_rate: fraction of the measured points whose residual norm exceeds
            ``gross_threshold`` (a fixed size, unlike the outliers' joint-relative sigma).
        n_points: number of points measured (interior frames of runs long enough).
        n_outliers: number of those that were outliers.
        missing_rate: fraction of all frames where the point is missing (non-finite).
        low_confidence_rate: fraction of the present points with confidence below the
            threshold (None when no confidence was given).
    """

    noise_std: float
    noise_std_white: float
    noise_std_d2: float
    noise_std_d2_white: float
    noise_ar1: float
    residual_autocorr: tuple[float, ...]
    tail_ratio: float
    outlier_rate: float
    outlier_median: float
    gross_rate: float
    n_points: int
    n_outliers: int
    missing_rate: float
    low_confidence_rate: float | None


@dataclass(frozen=True)
class JitterReport:
    """Result of :func:`estimate_jitter`.

    Attributes:
        joints: one :class:`JitterStats` per joint, in input order.
        groups: pooled statistics per named group of joints (empty when no groups were given).
        overall: statistics pooled over all joints.
        residual_autocorr_white: autocorrelation that the residual of white noise would have
            at lags 1..max_lag (the reference for "is the jitter temporally correlated?").
        residual_power_white: fraction of white-noise variance that the residual keeps.
        fps, cutoff_hz, order, edge_frames, outlier_sigma, gross_threshold: the settings used.
        skipped_runs: runs too short to measure (``2 * edge_frames + 3`` frames or fewer).
    """

    joints: tuple[JitterStats, ...]
    groups: dict[str, JitterStats]
    overall: JitterStats
    residual_autocorr_white: tuple[float, ...]
    residual_power_white: float
    fps: float
    cutoff_hz: float
    order: int
    edge_frames: int
    outlier_sigma: float
    gross_threshold: float
    skipped_runs: int


# ----------------------------------------------------------------------------------------
# Body size
# ----------------------------------------------------------------------------------------

def body_size(
    points: np.ndarray,
    *,
    layout: str | Layout = "coco17",
    definition: str = "bbox_diagonal",
) -> np.ndarray:
    """Per-frame size of a 2D or 3D skeleton.

    Args:
        points: keypoints with NaN for missing joints.
        layout: layout of the joint axis (needed for ``"torso"``).
        definition: ``"bbox_diagonal"``: diagonal of the axis-aligned box around the present
            joints (NaN if fewer than 2 are present); ``"torso"``: mean of the left and right
            shoulder-to-hip distances (NaN if neither side is present).

    Returns:
        The size per frame; a new array, float64.

    Raises:
        ValueError: for a bad ``definition`` or a joint axis that does not match ``layout``.

    Shape:
        points: ``(..., T, J, D)``; returns ``(..., T)``.
    """
    layout = get_layout(layout)
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 3 or points.shape[-2] != layout.num_joints:
        raise ValueError(
            f"points of layout {layout.name!r} need shape (..., T, {layout.num_joints}, D), got {points.shape}"
        )
    if definition == "bbox_diagonal":
        present = np.isfinite(points).all(axis=-1)
        lo = np.where(present[..., None], points, np.inf).min(axis=-2)
        hi = np.where(present[..., None], points, -np.inf).max(axis=-2)
        size = np.linalg.norm(hi - lo, axis=-1)
        return np.where(present.sum(axis=-1) >= 2, size, np.nan)
    if definition == "torso":
        sides = []
        for side in ("left", "right"):
            s, h = layout.index(f"{side}_shoulder"), layout.index(f"{side}_hip")
            sides.append(np.linalg.norm(points[..., s, :] - points[..., h, :], axis=-1))
        sides = np.stack(sides, axis=-1)
        count = np.isfinite(sides).sum(axis=-1)
        total = np.where(np.isfinite(sides), sides, 0.0).sum(axis=-1)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
    raise ValueError(f"definition must be one of ['bbox_diagonal', 'torso'], got {definition!r}")


def run_median(values: np.ndarray) -> np.ndarray:
    """Replace each contiguous run of finite values by the run's median (NaN stays NaN).

    Used to give every frame of a track segment one body size (the segment's median), so that
    a segment between two detection gaps (possibly another person) is scaled by its own size.

    Shape:
        values: ``(..., T)``; returns ``(..., T)`` float64.
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.full_like(values, np.nan)
    flat, flat_out = values.reshape(-1, values.shape[-1]), out.reshape(-1, values.shape[-1])
    for row, row_out in zip(flat, flat_out):
        for start, stop in _runs(np.isfinite(row)):
            row_out[start:stop] = np.median(row[start:stop])
    return out


# ----------------------------------------------------------------------------------------
# Estimation
# ----------------------------------------------------------------------------------------

def _runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _robust_std(x: np.ndarray) -> float:
    if x.size == 0:
        return math.nan
    return float(_MAD_TO_STD * np.median(np.abs(x - np.median(x))))


@lru_cache(maxsize=16)
def _residual_model(fps: float, cutoff_hz: float, order: int, max_lag: int) -> _ResidualModel:
    sos = signal.butter(order, cutoff_hz, fs=fps, output="sos")
    return _ResidualModel(sos, fps, cutoff_hz, max_lag)


class _ResidualModel:
    """Residual of AR(1) noise after ``x - sosfiltfilt(x)``, from the interior impulse response."""

    def __init__(self, sos: np.ndarray, fps: float, cutoff_hz: float, max_lag: int) -> None:
        half = int(40 * fps / cutoff_hz) + 50  # far beyond the filter's decay
        delta = np.zeros(2 * half + 1)
        delta[half] = 1.0
        lowpass = signal.sosfiltfilt(sos, delta)
        keep = int(np.max(np.flatnonzero(np.abs(lowpass) > 1e-6 * lowpass.max())) - half)  # support
        self.lowpass_kernel = lowpass[half - keep:half + keep + 1]  # impulse response, centred
        kernel = delta - lowpass
        tail = int(np.max(np.flatnonzero(np.abs(kernel) > 1e-10)) - half)  # beyond: below float noise
        kernel = kernel[half - tail:half + tail + 1]
        self.g = np.correlate(kernel, kernel, mode="full")  # kernel autocorrelation, lags -(n-1)..n-1
        self.lags = np.arange(self.g.size) - (kernel.size - 1)
        self.max_lag = max_lag
        self.phi_grid = np.round(np.arange(-0.9, 0.98 + 1e-9, 0.005), 4)
        cov = np.stack([self._cov(self.phi_grid, m) for m in range(max_lag + 1)], axis=1)
        self.power = cov[:, 0]  # residual variance per unit noise variance
        self.rho = cov[:, 1:] / cov[:, :1]  # residual autocorrelation at lags 1..max_lag

    def _cov(self, phi: np.ndarray, m: int) -> np.ndarray:
        # cov(e_t, e_{t+m}) = sum_k g(k) c(m - k) with c(k) = phi^|k| for unit-variance AR(1).
        dist = np.abs(m - self.lags)
        return (self.g[None, :] * np.power(phi[:, None], dist[None, :])).sum(axis=1)

    def white(self) -> tuple[float, tuple[float, ...]]:
        i = int(np.argmin(np.abs(self.phi_grid)))
        return float(self.power[i]), tuple(float(r) for r in self.rho[i])

    def power_of(self, phi: float) -> float:
        return float(self._cov(np.array([phi]), 0)[0])

    def fit(self, rho: np.ndarray) -> tuple[float, float]:
        """AR(1) coefficient whose residual autocorrelation best matches ``rho``; and its power."""
        ok = np.isfinite(rho)
        if not ok.any():
            i = int(np.argmin(np.abs(self.phi_grid)))
        else:
            i = int(np.argmin(((self.rho[:, ok] - rho[ok]) ** 2).sum(axis=1)))
        return float(self.phi_grid[i]), float(self.power[i])


def residual_power(phi: float, fps: float, *, cutoff_hz: float = 6.0, order: int = 4) -> float:
    """Fraction of the variance of AR(1) noise that the low-pass residual keeps.

    White noise (``phi = 0``) of std ``s`` leaves a residual of std ``s * sqrt(residual_power(0,
    ...))``; AR(1) noise with the same std leaves ``s * sqrt(residual_power(phi, ...))``. So AR(1)
    jitter with the same high-frequency power as white jitter of std ``s`` needs the std
    ``s * sqrt(residual_power(0) / residual_power(phi))``.

    Raises:
        ValueError: if ``phi`` is not in (-1, 1) or the filter settings are invalid.
    """
    if not -1.0 < phi < 1.0:
        raise ValueError(f"phi must be in (-1, 1), got {phi}")
    _validate(np.zeros((1, 1, 1)), float(fps), cutoff_hz, order, 1.0, 1.0, 1)
    return _residual_model(float(fps), float(cutoff_hz), int(order), 1).power_of(float(phi))


def _autocorr(series: list[tuple[np.ndarray, np.ndarray]], max_lag: int) -> np.ndarray:
    """Robust autocorrelation at lags 1..max_lag, from pairs where both points are usable.

    Gnanadesikan-Kettenring: ``(s(a+b)^2 - s(a-b)^2) / (s(a+b)^2 + s(a-b)^2)`` with ``s`` the
    MAD-based std. A plain sum of products would be dominated by the few frames of fast
    motion that leak through the filter (heavy-tailed residuals) rather than by the noise.
    """
    out = np.full(max_lag, np.nan)
    for m in range(1, max_lag + 1):
        a = [r[:-m][ok[:-m] & ok[m:]] for r, ok in series if r.size > m]
        b = [r[m:][ok[:-m] & ok[m:]] for r, ok in series if r.size > m]
        if not a or sum(len(v) for v in a) < 2:
            continue
        a, b = np.concatenate(a), np.concatenate(b)
        plus, minus = _robust_std(a + b) ** 2, _robust_std(a - b) ** 2
        if plus + minus > 0:
            out[m - 1] = (plus - minus) / (plus + minus)
    return out


def _validate(points: np.ndarray, fps: float, cutoff_hz: float, order: int, outlier_sigma: float,
              gross_threshold: float, max_lag: int) -> None:
    if points.ndim not in (3, 4):
        raise ValueError(f"points must have shape (T, J, D) or (N, T, J, D), got {points.shape}")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps}")
    if not (0 < cutoff_hz < fps / 2):
        raise ValueError(f"cutoff_hz must be between 0 and fps / 2 = {fps / 2}, got {cutoff_hz}")
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    if not outlier_sigma > 0:
        raise ValueError(f"outlier_sigma must be positive, got {outlier_sigma}")
    if not gross_threshold > 0:
        raise ValueError(f"gross_threshold must be positive, got {gross_threshold}")
    if max_lag < 1:
        raise ValueError(f"max_lag must be at least 1, got {max_lag}")


def estimate_jitter(
    points: np.ndarray,
    fps: float,
    *,
    scale: np.ndarray | float | None = None,
    confidence: np.ndarray | None = None,
    confidence_threshold: float = 0.5,
    groups: Mapping[str, Sequence[int]] | None = None,
    cutoff_hz: float = 6.0,
    order: int = 4,
    outlier_sigma: float = 5.0,
    gross_threshold: float = 0.05,
    max_lag: int = 3,
    iterations: int = 20,
    shared_ar1: bool = True,
) -> JitterReport:
    """Measure the high-frequency noise of keypoint tracks (see the module docstring).

    Args:
        points: keypoint tracks; NaN marks missing points and splits a joint's track into runs
            (put a NaN frame between two people's tracks so that an identity switch is not
            measured as jitter).
        fps: frame rate in Hz.
        scale: size to divide the noise by: a number, or one value per frame (e.g. the body
            size of that frame's person, see :func:`body_size` and :func:`run_median`).
            ``None`` reports in input units.
        confidence: per-point confidence, only used for ``low_confidence_rate``.
        confidence_threshold: points with confidence below this count as low-confidence.
        groups: name -> joint indices; statistics are also pooled over each group.
        cutoff_hz: low-pass cutoff; motion below it is kept, noise above it is measured.
        order: Butterworth order (``sosfiltfilt`` applies it twice, forwards and backwards).
        outlier_sigma: residual norm, in robust sigmas of that joint, above which a point is
            an outlier.
        gross_threshold: residual norm (in the units after ``scale``) above which a point
            counts as a gross error, e.g. 0.05 = 5% of the body size.
        max_lag: autocorrelation lags to report and to fit the AR(1) noise model on.
        iterations: at most this many rounds of outlier flagging and re-filtering.
        shared_ar1: fit one AR(1) coefficient on all joints pooled and use it for every joint
            and group (default). A short track determines ``phi`` poorly, and a wrong ``phi``
            changes the corrected std by a large factor; ``False`` fits each set on its own.

    Returns:
        A :class:`JitterReport`.

    Raises:
        ValueError: for bad shapes or settings, or when no run is long enough to measure.

    Shape:
        points: ``(T, J, D)`` or ``(N, T, J, D)``; scale: ``()``, ``(T,)`` or ``(N, T)``;
        confidence: ``(T, J)`` or ``(N, T, J)``.

    Example:
        >>> t = np.arange(600) / 30.0
        >>> clean = np.stack([np.sin(t), np.cos(t)], -1)[:, None, :]
        >>> noisy = clean + np.random.default_rng(0).normal(0, 0.01, clean.shape)
        >>> round(estimate_jitter(noisy, 30.0).overall.noise_std_white, 2)  # about 0.0095
        0.01
    """
    points = np.asarray(points, dtype=np.float64)
    fps = float(fps)
    _validate(points, fps, cutoff_hz, order, outlier_sigma, gross_threshold, max_lag)
    if points.ndim == 3:
        points = points[None]
    n, t, j, _ = points.shape
    if scale is None:
        scale_arr = np.ones((n, t))
    else:
        scale_arr = np.asarray(scale, dtype=np.float64)
        if scale_arr.ndim == 1 and n == 1:
            scale_arr = scale_arr[None]
        try:
            scale_arr = np.broadcast_to(scale_arr, (n, t))
        except ValueError:
            raise ValueError(
                f"scale must be a number or have shape (T,) = ({t},) or (N, T) = ({n}, {t}), "
                f"got {np.shape(scale)}"
            ) from None
        bad = ~((scale_arr > 0) & np.isfinite(scale_arr)) & np.isfinite(points).all(axis=-1).any(axis=-1)
        if bad.any():
            raise ValueError(
                f"scale must be positive and finite wherever a point is present; frame "
                f"{tuple(int(i) for i in np.argwhere(bad)[0])} has scale {scale_arr[bad][0]}"
            )
    conf = None
    if confidence is not None:
        conf = np.asarray(confidence, dtype=np.float64)
        if conf.shape != points.shape[:-1] and conf.shape != points.shape[1:-1]:
            raise ValueError(
                f"confidence must have the shape of points without the last axis, "
                f"{points.shape[1:-1] if n == 1 else points.shape[:-1]}, got {conf.shape}"
            )
        conf = conf.reshape(points.shape[:-1])

    sos = signal.butter(order, cutoff_hz, fs=fps, output="sos")
    padlen_max = 3 * (2 * len(sos) + 1)
    edge = math.ceil(fps / (2.0 * cutoff_hz))
    min_run = 2 * edge + 4
    model = _residual_model(fps, float(cutoff_hz), int(order), int(max_lag))

    present = np.isfinite(points).all(axis=-1)  # (n, t, j)
    # Per joint: residual series (n*runs) in scaled units, validity, outlier flags, d2 values.
    per_joint: list[dict] = []
    skipped = 0
    for jj in range(j):
        runs = []
        for b in range(n):
            for start, stop in _runs(present[b, :, jj]):
                if stop - start < min_run:
                    skipped += 1
                    continue
                runs.append((b, start, stop))
        per_joint.append(_joint_residuals(points[..., jj, :], scale_arr, runs, sos, padlen_max, edge,
                                          outlier_sigma, iterations, model.lowpass_kernel))
    if all(p["n_points"] == 0 for p in per_joint):
        raise ValueError(
            f"no joint has a run of {min_run} or more consecutive present frames to measure; "
            f"give longer tracks or a higher cutoff_hz (edge frames per side: {edge})"
        )
    if skipped:
        logger.info("skipped %d runs shorter than %d frames", skipped, min_run)

    phi_shared = _fit_phi([per_joint[i] for i in range(j)], model) if shared_ar1 else None

    def pooled(indices: Sequence[int]) -> JitterStats:
        parts = [per_joint[i] for i in indices]
        missing = float(np.mean(~present[..., list(indices)]))
        low = None
        if conf is not None:
            sel = conf[..., list(indices)]
            here = present[..., list(indices)]
            low = float(np.mean(sel[here] < confidence_threshold)) if here.any() else math.nan
        return _stats(parts, model, missing, low, phi_shared, gross_threshold)

    joints = tuple(pooled([i]) for i in range(j))
    group_stats: dict[str, JitterStats] = {}
    for name, idx in (groups or {}).items():
        idx = [int(i) for i in idx]
        if not idx or min(idx) < 0 or max(idx) >= j:
            raise ValueError(f"group {name!r} has joint indices {idx}; they must lie in [0, {j})")
        group_stats[name] = pooled(idx)
    power_white, rho_white = model.white()
    return JitterReport(
        joints=joints, groups=group_stats, overall=pooled(range(j)),
        residual_autocorr_white=rho_white, residual_power_white=power_white, fps=fps,
        cutoff_hz=float(cutoff_hz), order=int(order), edge_frames=edge,
        outlier_sigma=float(outlier_sigma), gross_threshold=float(gross_threshold), skipped_runs=skipped,
    )


def _peaks(z: np.ndarray, flagged: np.ndarray, threshold: float) -> np.ndarray:
    """Unflagged frames with ``z > threshold`` that are at least as large as their unflagged
    neighbours. Flagging only peaks, then refitting without them, keeps the pull of a gross
    error on its neighbours from getting them flagged too; an error several frames long is
    taken one peak per round.
    """
    z = np.where(flagged, -np.inf, z)
    left = np.concatenate([[-np.inf], z[:-1]])
    right = np.concatenate([z[1:], [-np.inf]])
    return (z > threshold) & (z >= left) & (z >= right)


def _fit_without(x: np.ndarray, flagged: np.ndarray, sos: np.ndarray, padlen: int,
                 kernel: np.ndarray) -> np.ndarray:
    """Low-pass of the run ``x`` (T, D) as if the flagged frames were not there.

    The flagged values are replaced by the values ``m`` that the low-pass itself returns there
    (the fixed point ``m = lowpass(x with m at the flagged frames)``), so an outlier neither
    pulls the curve nor leaves a dent. Writing ``m = b + delta`` with ``b`` a linear bridge,
    the fixed point is the linear system ``(I - H) delta = lowpass(x with b)[flagged] - b``
    where ``H`` holds the filter's impulse response ``kernel`` between flagged frames; it is
    solved per cluster of nearby flagged frames, by least squares so that directions the
    filter cannot see (inside a long gap) stay at the bridge. Clusters of more than
    ``_MAX_CLUSTER`` frames keep the linear bridge (the dense solve would cost too much).
    """
    where = np.flatnonzero(flagged)
    if where.size == 0 or where.size > len(x) - 4:
        return signal.sosfiltfilt(sos, x, axis=0, padlen=padlen)
    keep = np.flatnonzero(~flagged)
    bridged = x.copy()
    for c in range(x.shape[1]):
        bridged[where, c] = np.interp(where, keep, x[keep, c])
    first = signal.sosfiltfilt(sos, bridged, axis=0, padlen=padlen)
    half = kernel.size // 2
    splits = np.flatnonzero(np.diff(where) > half) + 1
    for cluster in np.split(where, splits):
        if len(cluster) > _MAX_CLUSTER:
            continue  # mostly flagged stretch (e.g. no noise at all): keep the linear bridge
        gaps = cluster[:, None] - cluster[None, :]
        h = kernel[np.clip(gaps + half, 0, kernel.size - 1)] * (np.abs(gaps) <= half)
        rhs = first[cluster] - bridged[cluster]
        delta = np.linalg.lstsq(np.eye(len(cluster)) - h, rhs, rcond=1e-3)[0]
        bridged[cluster] += delta
    return signal.sosfiltfilt(sos, bridged, axis=0, padlen=padlen)


def _joint_residuals(track: np.ndarray, scale: np.ndarray, runs: list[tuple[int, int, int]],
                     sos: np.ndarray, padlen_max: int, edge: int, outlier_sigma: float,
                     iterations: int, kernel: np.ndarray) -> dict:
    """Low-pass residuals, outlier flags and second differences of one joint's runs.

    ``track`` is ``(N, T, D)``; residuals are divided by ``scale`` ``(N, T)``.
    """
    raw = [track[b, s:e] for b, s, e in runs]
    sc = [scale[b, s:e, None] for b, s, e in runs]
    flags = [np.zeros(len(x), bool) for x in raw]
    interior = []
    for x in raw:
        ok = np.zeros(len(x), bool)
        ok[edge:len(x) - edge] = True
        interior.append(ok)
    pad = [min(padlen_max, len(x) - 1) for x in raw]
    resid = [(x - signal.sosfiltfilt(sos, x, axis=0, padlen=p)) / s for x, p, s in zip(raw, pad, sc)]
    for _ in range(max(iterations, 1)):
        inl = [r[ok & ~f] for r, ok, f in zip(resid, interior, flags)]
        if sum(len(v) for v in inl) == 0:
            break
        allr = np.concatenate(inl)
        sigma = np.array([_robust_std(allr[:, c]) for c in range(allr.shape[1])])
        sigma = np.where(sigma > 0, sigma, np.finfo(float).tiny)
        new = [f | _peaks(np.linalg.norm(r / sigma, axis=1), f, outlier_sigma) for r, f in zip(resid, flags)]
        if all(np.array_equal(a, b) for a, b in zip(new, flags)):
            break
        flags = new
        resid = [(x - _fit_without(x, f, sos, p, kernel)) / s for x, f, p, s in zip(raw, flags, pad, sc)]
    d2 = [((x[2:] - 2 * x[1:-1] + x[:-2]) / s[1:-1])[ok[1:-1]] for x, s, ok in zip(raw, sc, interior)]
    n_points = int(sum(ok.sum() for ok in interior))
    return {
        "resid": resid, "interior": interior, "flags": flags, "d2": d2, "n_points": n_points,
        "n_outliers": int(sum((f & ok).sum() for f, ok in zip(flags, interior))),
    }


def _series(parts: list[dict]) -> list[tuple[np.ndarray, np.ndarray]]:
    """One (residual, usable) pair per run and coordinate: interior frames, outliers excluded."""
    return [(r[:, c], ok & ~f) for p in parts for r, ok, f in zip(p["resid"], p["interior"], p["flags"])
            for c in range(r.shape[1])]


def _fit_phi(parts: list[dict], model: _ResidualModel) -> float:
    return model.fit(_autocorr(_series(parts), model.max_lag))[0]


def _stats(parts: list[dict], model: _ResidualModel, missing: float, low: float | None,
           phi: float | None, gross_threshold: float) -> JitterStats:
    n_points = sum(p["n_points"] for p in parts)
    n_out = sum(p["n_outliers"] for p in parts)
    nan = math.nan
    if n_points == 0:
        return JitterStats(nan, nan, nan, nan, nan, (nan,) * model.max_lag, nan, nan, nan, nan, 0, 0, missing, low)
    inl = np.concatenate([r[ok & ~f].ravel() for p in parts
                          for r, ok, f in zip(p["resid"], p["interior"], p["flags"])])
    d2 = np.concatenate([x.ravel() for p in parts for x in p["d2"]])
    norms = np.concatenate([np.linalg.norm(r[ok], axis=1) for p in parts
                            for r, ok in zip(p["resid"], p["interior"])])
    out_norms = np.concatenate([np.linalg.norm(r[ok & f], axis=1) for p in parts
                                for r, ok, f in zip(p["resid"], p["interior"], p["flags"])])
    rho = _autocorr(_series(parts), model.max_lag)
    if phi is None:
        phi, power = model.fit(rho)
    else:
        power = model.power_of(phi)
    power_white, _ = model.white()
    resid_std = _robust_std(inl)
    d2_std = _robust_std(d2)
    return JitterStats(
        noise_std=resid_std / math.sqrt(power),
        noise_std_white=resid_std / math.sqrt(power_white),
        noise_std_d2=d2_std / math.sqrt(6.0 - 8.0 * phi + 2.0 * phi * phi),
        noise_std_d2_white=d2_std / math.sqrt(6.0),
        noise_ar1=phi,
        residual_autocorr=tuple(float(r) for r in rho),
        tail_ratio=float(np.std(inl) / resid_std) if resid_std > 0 else nan,
        outlier_rate=n_out / n_points,
        outlier_median=float(np.median(out_norms)) if out_norms.size else nan,
        gross_rate=float(np.mean(norms > gross_threshold)),
        n_points=n_points,
        n_outliers=n_out,
        missing_rate=missing,
        low_confidence_rate=low,
    )

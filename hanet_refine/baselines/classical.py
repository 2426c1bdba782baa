"""Classical smoothers to compare HANet against, with the call shape of ``refine()``.

Every function here takes ``(T, J, D)`` or ``(N, T, J, D)`` keypoints (2d: D = 2 or 3 with a
confidence column; 3d: D = 3), NumPy or torch, and gives back the same shape, type, device and
float dtype; the input is never modified. Missing points (NaN, low confidence, and for 2d exact
(0, 0)) are found and filled exactly as :func:`hanet_refine.refine` does
(:func:`hanet_refine.arrays.prepare_keypoints`); the filters then run on the filled tracks,
except the Kalman smoother, which skips the measurement update for missing points. Every
output point is an estimate, missing ones included.

Parameters are in physical units (seconds, Hz) and ``fps`` (default 30 when None) converts
them to frames, so one setting means the same at any frame rate. The two filters whose
parameters depend on how far points move (One Euro, Kalman) measure distances in units of the
track's pose size (see :func:`pose_scale`), so one setting works for pixels, normalised image
coordinates and metres alike; pass ``scale=1.0`` to use raw coordinate units instead.

Rotations (``kind="smpl"``) are not filtered here: filter the 3d joints (``kind="3d"``) or
use ``refine(kind="smpl")``.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import numpy as np
import scipy.ndimage
import scipy.signal

from ..arrays import Prepared, check_kind, from_numpy_like, prepare_keypoints, to_numpy
from ..layouts import Layout
from ..missing import DEFAULT_CONFIDENCE_THRESHOLD

__all__ = [
    "DEFAULT_FPS",
    "DEFAULT_PARAMS",
    "FILTERS",
    "PARAM_GRID",
    "OneEuroFilter",
    "butterworth",
    "gaussian",
    "kalman",
    "one_euro",
    "pose_scale",
    "savgol",
]

logger = logging.getLogger(__name__)

#: Frame rate assumed when ``fps`` is None.
DEFAULT_FPS = 30.0

#: Default parameters of each filter (the keyword defaults of the functions below).
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "one_euro": {"min_cutoff": 1.0, "beta": 10.0, "d_cutoff": 1.0},
    "savgol": {"window_seconds": 0.3, "polyorder": 2},
    "gaussian": {"sigma_seconds": 0.04},
    "butterworth": {"cutoff_hz": 4.0, "order": 2},
    "kalman": {"process_noise": 1e3, "measurement_noise": 0.01},
}

#: Small grids (3 to 6 values per parameter) for tuning each filter on validation data.
PARAM_GRID: dict[str, dict[str, list[Any]]] = {
    "one_euro": {
        "min_cutoff": [0.5, 1.0, 2.0, 4.0, 8.0],
        "beta": [0.0, 1.0, 3.0, 10.0, 30.0, 100.0],
        "d_cutoff": [1.0, 2.0, 4.0],
    },
    "savgol": {"window_seconds": [0.1, 0.2, 0.3, 0.5, 0.8], "polyorder": [1, 2, 3]},
    "gaussian": {"sigma_seconds": [0.02, 0.03, 0.04, 0.06, 0.1, 0.15]},
    "butterworth": {"cutoff_hz": [1.5, 2.5, 4.0, 6.0, 8.0], "order": [1, 2, 4]},
    "kalman": {
        "process_noise": [1e1, 1e2, 1e3, 1e4, 1e5],
        "measurement_noise": [0.005, 0.01, 0.02],
    },
}


# ----------------------------------------------------------------------------------------
# Shared checks and helpers


def _fps(fps: float | None) -> float:
    if fps is None:
        return DEFAULT_FPS
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)):
        raise ValueError(f"fps must be a positive number of frames per second, got {fps!r}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive, finite number of frames per second, got {fps!r}")
    return float(fps)


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    ok_type = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok_type or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        need = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ValueError(f"{name} must be {need}, got {value!r}")
    return float(value)


def _int_at_least(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _prepare(
    keypoints: Any,
    kind: str,
    layout: str | Layout | None,
    confidence: Any,
    confidence_threshold: float,
    zero_is_missing: bool | None,
) -> Prepared:
    check_kind(kind)
    if kind == "smpl":
        raise ValueError(
            "the classical baselines filter joint positions (kind='2d' or '3d'), not SMPL rotations; "
            "filter the SMPL model's 3d joints with kind='3d', or use refine(kind='smpl')"
        )
    return prepare_keypoints(
        keypoints,
        kind,
        layout=layout,
        confidence=confidence,
        confidence_threshold=confidence_threshold,
        zero_is_missing=zero_is_missing,
    )


def _scale_arg(scale: Any, name: str = "scale") -> float | None:
    if scale is None:
        return None
    return _positive(name, scale)


def pose_scale(points: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Size of the pose in each track: the median over frames of the larger side of the box
    around the frame's observed keypoints.

    Frames with fewer than two observed keypoints are left out of the median; a track with no
    such frame, or whose points all coincide, gets 1.0 (raw coordinate units).

    Args:
        points: keypoint positions.
        mask: True where a point is missing (left out of the box); default: non-finite points.

    Returns:
        One positive size per track, float64.

    Shape:
        points: ``(B, T, J, D)``; mask: ``(B, T, J)``; returns ``(B,)``.
    """
    points = np.asarray(points, dtype=np.float64)
    seen = np.isfinite(points).all(axis=-1)
    if mask is not None:
        seen &= ~np.asarray(mask, dtype=bool)
    hi = np.where(seen[..., None], points, -np.inf).max(axis=2)  # B T D
    lo = np.where(seen[..., None], points, np.inf).min(axis=2)
    usable = seen.sum(axis=2) >= 2  # B T
    extent = np.where(usable, (hi - lo).max(axis=-1), np.nan)
    scale = np.ones(points.shape[0])
    for b in range(points.shape[0]):  # one median per track; tracks are few
        values = extent[b][usable[b]]
        if values.size:
            median = float(np.median(values))
            if median > 0:
                scale[b] = median
    return scale


# ----------------------------------------------------------------------------------------
# One Euro


class OneEuroFilter:
    """The One Euro filter (Casiez, Roussel and Vogel, CHI 2012) for streams of poses.

    A first-order low-pass filter whose cutoff rises with speed: ``cutoff = min_cutoff +
    beta * speed``. Slow motion is smoothed hard (little jitter), fast motion lightly (little
    lag). It is causal: each output depends only on the frames seen so far. The speed is that
    of the whole keypoint (the norm of its smoothed velocity), so all coordinates of a
    keypoint share one cutoff and the result does not depend on the direction of the axes.
    The speed is measured in ``scale`` units per second.

    Each call takes one frame of any number of tracks, ``(..., J, D)``, and returns the
    filtered frame. Points given as NaN are missing: their output is the last estimate
    (NaN until the point has been seen once), and their state waits for the next observation.
    For OpenPose zeros or low-confidence points, set them to NaN before the call.

    Args:
        fps: frame rate of the stream, used when a call gives no timestamp; default 30.
        min_cutoff: cutoff frequency at rest, in Hz. Lower: smoother and slower.
        beta: how fast the cutoff rises with speed, in Hz per (scale unit per second).
            Higher: less lag in fast motion, more jitter.
        d_cutoff: cutoff of the low-pass filter on the velocity, in Hz.
        scale: the distance unit of the speed, e.g. the pose size in pixels. One number, an
            array that broadcasts to ``(..., J)``, or None: each track's size is taken from the
            first frame in which it has a visible point (the larger side of the box around its
            visible keypoints; 1.0, raw units, if that frame has fewer than two).

    Raises:
        ValueError: on a non-positive ``fps``, ``min_cutoff``, ``d_cutoff`` or ``scale``, a
            negative ``beta``, a frame whose shape differs from the first one (call
            :meth:`reset` to start a new stream) or a timestamp that does not increase.

    Example:
        >>> f = OneEuroFilter(fps=30)
        >>> for frame in frames:          # frame: (17, 2) pixel coordinates
        ...     smooth = f(frame)
    """

    def __init__(
        self,
        *,
        fps: float | None = None,
        min_cutoff: float = DEFAULT_PARAMS["one_euro"]["min_cutoff"],
        beta: float = DEFAULT_PARAMS["one_euro"]["beta"],
        d_cutoff: float = DEFAULT_PARAMS["one_euro"]["d_cutoff"],
        scale: float | np.ndarray | None = None,
    ) -> None:
        self.fps = _fps(fps)
        self.min_cutoff = _positive("min_cutoff", min_cutoff)
        self.beta = _positive("beta", beta, allow_zero=True)
        self.d_cutoff = _positive("d_cutoff", d_cutoff)
        if scale is not None and not np.isscalar(scale):
            scale_arr = to_numpy(scale, "scale")
            if not (np.isfinite(scale_arr).all() and (scale_arr > 0).all()):
                raise ValueError("scale must hold finite numbers > 0")
            self._scale_given: float | np.ndarray | None = scale_arr
        else:
            self._scale_given = _scale_arg(scale)
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next call starts a new one (of any shape)."""
        self._x: np.ndarray | None = None  # (..., J, D) last estimate
        self._dx: np.ndarray | None = None  # (..., J, D) smoothed velocity
        self._last_time: np.ndarray | None = None  # (..., J) time of each point's last update
        self._scale: np.ndarray | None = None  # (..., J) or broadcastable
        self._clock = 0.0  # time of the previous call

    def __call__(self, frame: Any, timestamp: float | None = None) -> Any:
        """Filter one frame.

        Args:
            frame: ``(..., J, D)`` positions, NaN where missing (NumPy or torch).
            timestamp: time of the frame in seconds; default: previous time + 1 / fps.

        Returns:
            The filtered frame, same shape, type and float dtype as ``frame``.
        """
        x = to_numpy(frame, "frame")
        if x.ndim < 2 or 0 in x.shape:
            raise ValueError(f"frame must have shape (..., J, D) with J, D >= 1, got {tuple(x.shape)}")
        if np.isinf(x).any():
            raise ValueError("frame contains inf; mark missing points with NaN instead")
        seen_now = np.isfinite(x).all(axis=-1)
        if self._x is None:
            self._start(x, seen_now, timestamp)
            out = np.where(self._has_state()[..., None], self._x, np.nan)
            return from_numpy_like(out, frame)
        if x.shape != self._x.shape:
            raise ValueError(
                f"frame shape {tuple(x.shape)} differs from the stream's {tuple(self._x.shape)}; "
                "call reset() to start a new stream"
            )
        now = self._advance(timestamp)
        new = seen_now & ~self._has_state()
        update = seen_now & self._has_state()
        dt = np.maximum(now - np.where(update, self._last_time, now - 1.0), 1e-12)[..., None]
        # Velocity from the previous estimate (Casiez et al.), low-passed at d_cutoff.
        dx_raw = (np.where(update[..., None], x, self._x) - self._x) / dt
        dx = self._dx + _alpha(self.d_cutoff, dt) * (dx_raw - self._dx)
        speed = np.linalg.norm(dx, axis=-1, keepdims=True) / self._scale[..., None]
        cutoff = self.min_cutoff + self.beta * speed
        est = self._x + _alpha(cutoff, dt) * (np.where(update[..., None], x, self._x) - self._x)
        u = update[..., None]
        self._x = np.where(u, est, np.where(new[..., None], x, self._x))
        self._dx = np.where(u, dx, np.where(new[..., None], 0.0, self._dx))
        self._last_time = np.where(seen_now, now, self._last_time)
        if self._scale_given is None:
            self._fill_scale(x, new)
        out = np.where(self._has_state()[..., None], self._x, np.nan)
        return from_numpy_like(out, frame)

    # -- internals -------------------------------------------------------------------------

    def _has_state(self) -> np.ndarray:
        return np.isfinite(self._last_time)

    def _advance(self, timestamp: float | None) -> float:
        if timestamp is None:
            self._clock += 1.0 / self.fps
        else:
            t = float(timestamp)
            if not (math.isfinite(t) and t > self._clock):
                raise ValueError(
                    f"timestamp must increase from call to call (previous {self._clock}), got {timestamp!r}"
                )
            self._clock = t
        return self._clock

    def _start(self, x: np.ndarray, seen: np.ndarray, timestamp: float | None) -> None:
        if timestamp is not None:
            t = float(timestamp)
            if not math.isfinite(t):
                raise ValueError(f"timestamp must be a finite number of seconds, got {timestamp!r}")
            self._clock = t
        self._x = np.where(seen[..., None], x, 0.0)
        self._dx = np.zeros_like(x)
        self._last_time = np.where(seen, self._clock, np.nan)  # NaN: never seen
        if self._scale_given is not None:
            given = np.asarray(self._scale_given, dtype=np.float64)
            try:
                self._scale = np.broadcast_to(given, x.shape[:-1]).copy()
            except ValueError:
                raise ValueError(
                    f"scale of shape {given.shape} does not broadcast to the frame's (..., J) = "
                    f"{x.shape[:-1]}"
                ) from None
        else:
            self._scale = np.full(x.shape[:-1], np.nan)
            self._fill_scale(x, seen)

    def _fill_scale(self, x: np.ndarray, new: np.ndarray) -> None:
        """Set the size of each track that has no size yet from its first frame with >= 2 points."""
        need = np.isnan(self._scale).all(axis=-1) & new.any(axis=-1)  # (...,) tracks
        if not need.any():
            return
        seen = np.isfinite(x).all(axis=-1)
        hi = np.where(seen[..., None], x, -np.inf).max(axis=-2)
        lo = np.where(seen[..., None], x, np.inf).min(axis=-2)
        extent = (hi - lo).max(axis=-1)
        ok = seen.sum(axis=-1) >= 2
        size = np.where(ok & (extent > 0), extent, 1.0)
        self._scale = np.where(need[..., None], size[..., None], self._scale)


def _alpha(cutoff: np.ndarray | float, dt: np.ndarray | float) -> np.ndarray:
    """Smoothing factor of a first-order low-pass filter with this cutoff (Hz) and step (s)."""
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(
    keypoints: Any,
    kind: str = "2d",
    *,
    fps: float | None = None,
    min_cutoff: float = DEFAULT_PARAMS["one_euro"]["min_cutoff"],
    beta: float = DEFAULT_PARAMS["one_euro"]["beta"],
    d_cutoff: float = DEFAULT_PARAMS["one_euro"]["d_cutoff"],
    scale: float | None = None,
    layout: str | Layout | None = None,
    confidence: Any = None,
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD,
    zero_is_missing: bool | None = None,
) -> Any:
    """Smooth keypoint tracks with the One Euro filter (causal; see :class:`OneEuroFilter`).

    Missing points are filled first (linear interpolation in time, as ``refine`` does), so,
    unlike the streaming class, this call looks ahead across gaps. The first frame is passed
    through unchanged; there is no other end effect, and any T >= 1 works.

    Args:
        keypoints: ``(T, J, D)`` or ``(N, T, J, D)`` NumPy array or torch tensor.
        kind: ``"2d"`` or ``"3d"``.
        fps: frame rate; default 30.
        min_cutoff: cutoff at rest, Hz.
        beta: cutoff increase per unit of speed, Hz per (pose size per second).
        d_cutoff: cutoff of the velocity estimate, Hz.
        scale: distance unit of the speed; default: each track's :func:`pose_scale`.
            ``scale=1.0`` measures speed in raw coordinate units, as in the original filter.
        layout: keypoint layout; inferred from J when omitted.
        confidence: ``(T, J)`` or ``(N, T, J)`` scores, instead of a third 2d column.
        confidence_threshold: points scored below this are missing.
        zero_is_missing: treat exact (0, 0) as missing; default True for 2d, False for 3d.

    Returns:
        Smoothed keypoints, same shape, type, device and float dtype as ``keypoints``
        (a 2d confidence column comes back unchanged).

    Raises:
        ValueError: on a bad kind, shape, layout or parameter (the message names it), or
            ``kind="smpl"``.

    Shape:
        keypoints: ``(T, J, D)`` or ``(N, T, J, D)``; returns the same.

    Example:
        >>> smooth = one_euro(kps, fps=25, min_cutoff=1.0, beta=10.0)
    """
    params = {"fps": _fps(fps), "min_cutoff": min_cutoff, "beta": beta, "d_cutoff": d_cutoff}
    OneEuroFilter(**params)  # checks the parameters before any work
    scale = _scale_arg(scale)
    prepared = _prepare(keypoints, kind, layout, confidence, confidence_threshold, zero_is_missing)
    pts = prepared.points
    track_scale = pose_scale(pts, prepared.mask) if scale is None else np.full(pts.shape[0], scale)
    filt = OneEuroFilter(**params, scale=track_scale[:, None])  # (B, 1) broadcasts to (B, J)
    out = np.empty_like(pts)
    for t in range(pts.shape[1]):
        out[:, t] = filt(pts[:, t])
    return prepared.restore(out)


# ----------------------------------------------------------------------------------------
# Savitzky-Golay, Gaussian, Butterworth


def _odd_window(frames: float) -> int:
    """The odd number of frames nearest to ``frames + 1`` (a window spanning ``frames`` steps)."""
    return 2 * math.floor(frames / 2.0 + 0.5) + 1


def savgol(
    keypoints: Any,
    kind: str = "2d",
    *,
    fps: float | None = None,
    window_seconds: float | None = None,
    window: int | None = None,
    polyorder: int = DEFAULT_PARAMS["savgol"]["polyorder"],
    mode: str = "interp",
    layout: str | Layout | None = None,
    confidence: Any = None,
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD,
    zero_is_missing: bool | None = None,
) -> Any:
    """Savitzky-Golay smoothing (``scipy.signal.savgol_filter``) along time.

    Each output frame is the value at its centre of a least-squares polynomial of degree
    ``polyorder`` fitted to the window around it: zero phase (no lag), and polynomials up to
    that degree (e.g. constant velocity) pass unchanged.

    The window is ``window`` frames, or ``window_seconds`` converted with ``fps`` to the odd
    number of frames spanning closest to that time (default 0.3 s: 9 frames at 30 fps); give
    one of the two. An even ``window`` is raised to the next odd number. A window too short
    for the polynomial is raised to ``polyorder + 1`` or ``+ 2`` frames (which passes the
    input through). A sequence shorter than the window gets the longest odd window that fits,
    with ``polyorder`` lowered to at most window - 1 (T <= 2 returns the filled input).

    Ends: with the default ``mode="interp"`` the polynomial fitted to the first (last) full
    window gives the first (last) half window, so a straight line stays straight to the end;
    ``"mirror"``, ``"nearest"``, ``"constant"`` and ``"wrap"`` extend the signal as
    ``scipy.signal.savgol_filter`` documents.

    Args:
        keypoints: ``(T, J, D)`` or ``(N, T, J, D)`` NumPy array or torch tensor.
        kind: ``"2d"`` or ``"3d"``.
        fps: frame rate; default 30.
        window_seconds: window length in seconds.
        window: window length in frames (instead of ``window_seconds``).
        polyorder: degree of the fitted polynomial.
        mode: end treatment, one of scipy's ``savgol_filter`` modes.
        layout, confidence, confidence_threshold, zero_is_missing: as in :func:`one_euro`.

    Returns:
        Smoothed keypoints, same shape, type, device and float dtype as ``keypoints``.

    Raises:
        ValueError: on a bad kind, shape, layout or parameter, on both ``window`` and
            ``window_seconds``, or ``kind="smpl"``.

    Shape:
        keypoints: ``(T, J, D)`` or ``(N, T, J, D)``; returns the same.

    Example:
        >>> smooth = savgol(kps, fps=60, window_seconds=0.25, polyorder=2)
    """
    rate = _fps(fps)
    polyorder = _int_at_least("polyorder", polyorder, 0)
    modes = ("interp", "mirror", "nearest", "constant", "wrap")
    if mode not in modes:
        raise ValueError(f"mode must be one of {list(modes)}, got {mode!r}")
    if window is not None and window_seconds is not None:
        raise ValueError("give either window (frames) or window_seconds, not both")
    if window is not None:
        frames = _int_at_least("window", window, 1)
        frames += 1 - frames % 2
    else:
        seconds = DEFAULT_PARAMS["savgol"]["window_seconds"] if window_seconds is None else window_seconds
        frames = _odd_window(_positive("window_seconds", seconds) * rate)
    if frames <= polyorder:
        frames = polyorder + 1 if polyorder % 2 == 0 else polyorder + 2  # smallest odd > polyorder
    prepared = _prepare(keypoints, kind, layout, confidence, confidence_threshold, zero_is_missing)
    pts = prepared.points
    t = pts.shape[1]
    if frames > t:
        frames = t if t % 2 else t - 1
        logger.debug("savgol: sequence of %d frames, window shrunk to %d", t, frames)
    order = min(polyorder, frames - 1)
    if frames <= 1 or order >= frames - 1:
        return prepared.restore(pts)  # a polynomial through every point of the window: identity
    out = scipy.signal.savgol_filter(pts, frames, order, axis=1, mode=mode)
    return prepared.restore(out)


def _odd_pad(x: np.ndarray, pad: int) -> np.ndarray:
    """Extend axis 1 at both ends by point reflection (2 * end - mirror image), which continues
    a straight line exactly; reflection repeats when ``pad`` exceeds the length."""
    return np.pad(x, [(0, 0), (pad, pad)] + [(0, 0)] * (x.ndim - 2), mode="reflect", reflect_type="odd")


def gaussian(
    keypoints: Any,
    kind: str = "2d",
    *,
    fps: float | None = None,
    sigma_seconds: float = DEFAULT_PARAMS["gaussian"]["sigma_seconds"],
    truncate: float = 4.0,
    mode: str = "odd",
    layout: str | Layout | None = None,
    confidence: Any = None,
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD,
    zero_is_missing: bool | None = None,
) -> Any:
    """Gaussian smoothing along time (``scipy.ndimage.gaussian_filter1d``).

    Zero phase; the kernel's standard deviation is ``sigma_seconds * fps`` frames (default
    0.04 s: 1.2 frames at 30 fps), cut at ``truncate`` standard deviations.

    Ends: the default ``mode="odd"`` extends each track by point reflection about its end
    value (as ``scipy.signal.filtfilt``'s ``padtype="odd"``), so a straight line stays
    straight up to the ends and a moving point is not pulled back; scipy's ``"reflect"``,
    ``"nearest"``, ``"mirror"``, ``"constant"`` and ``"wrap"`` are also accepted (these bend a
    moving track towards standstill at the ends). Any T >= 1 works (T = 1 is returned as is).

    Args:
        keypoints: ``(T, J, D)`` or ``(N, T, J, D)`` NumPy array or torch tensor.
        kind: ``"2d"`` or ``"3d"``.
        fps: frame rate; default 30.
        sigma_seconds: standard deviation of the kernel, seconds.
        truncate: kernel radius in standard deviations.
        mode: end treatment, see above.
        layout, confidence, confidence_threshold, zero_is_missing: as in :func:`one_euro`.

    Returns:
        Smoothed keypoints, same shape, type, device and float dtype as ``keypoints``.

    Raises:
        ValueError: on a bad kind, shape, layout, parameter or mode, or ``kind="smpl"``.

    Shape:
        keypoints: ``(T, J, D)`` or ``(N, T, J, D)``; returns the same.

    Example:
        >>> smooth = gaussian(kps, fps=30, sigma_seconds=0.05)
    """
    sigma = _positive("sigma_seconds", sigma_seconds) * _fps(fps)
    truncate = _positive("truncate", truncate)
    modes = ("odd", "reflect", "nearest", "mirror", "constant", "wrap")
    if mode not in modes:
        raise ValueError(f"mode must be one of {list(modes)}, got {mode!r}")
    prepared = _prepare(keypoints, kind, layout, confidence, confidence_threshold, zero_is_missing)
    pts = prepared.points
    if pts.shape[1] == 1:
        return prepared.restore(pts)
    if mode == "odd":
        radius = int(truncate * sigma + 0.5)
        padded = _odd_pad(pts, radius)
        out = scipy.ndimage.gaussian_filter1d(padded, sigma, axis=1, mode="nearest", truncate=truncate)
        out = out[:, radius : radius + pts.shape[1]]
    else:
        out = scipy.ndimage.gaussian_filter1d(pts, sigma, axis=1, mode=mode, truncate=truncate)
    return prepared.restore(out)


def butterworth(
    keypoints: Any,
    kind: str = "2d",
    *,
    fps: float | None = None,
    cutoff_hz: float = DEFAULT_PARAMS["butterworth"]["cutoff_hz"],
    order: int = DEFAULT_PARAMS["butterworth"]["order"],
    layout: str | Layout | None = None,
    confidence: Any = None,
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD,
    zero_is_missing: bool | None = None,
) -> Any:
    """Zero-phase Butterworth low-pass filter along time (``scipy.signal.sosfiltfilt``).

    The filter runs forwards and backwards, so there is no lag, the gain is the square of the
    Butterworth gain (``cutoff_hz`` is where it falls to 1/2, -6 dB) and the roll-off is
    that of order ``2 * order``. The standard biomechanics choice is order 2 (4 after the two
    passes) at 4 to 6 Hz.

    Ends: each track is extended by point reflection about its end value (``padtype="odd"``)
    by at least ``fps / cutoff_hz`` frames (about one period of the cutoff, so the start-up
    transient has died down before the real data begin), and by at most ``T - 1`` frames, so
    short sequences work; T = 1 is returned as is. A straight line is kept straight. When
    ``cutoff_hz`` is at or above the Nyquist frequency ``fps / 2`` nothing can be removed: the
    filled input is returned with a warning.

    Args:
        keypoints: ``(T, J, D)`` or ``(N, T, J, D)`` NumPy array or torch tensor.
        kind: ``"2d"`` or ``"3d"``.
        fps: frame rate; default 30.
        cutoff_hz: cutoff frequency, Hz.
        order: order of the Butterworth filter (before the forward-backward doubling).
        layout, confidence, confidence_threshold, zero_is_missing: as in :func:`one_euro`.

    Returns:
        Smoothed keypoints, same shape, type, device and float dtype as ``keypoints``.

    Raises:
        ValueError: on a bad kind, shape, layout or parameter, or ``kind="smpl"``.

    Shape:
        keypoints: ``(T, J, D)`` or ``(N, T, J, D)``; returns the same.

    Example:
        >>> smooth = butterworth(kps, fps=50, cutoff_hz=6.0, order=2)
    """
    rate = _fps(fps)
    cutoff = _positive("cutoff_hz", cutoff_hz)
    order = _int_at_least("order", order, 1)
    prepared = _prepare(keypoints, kind, layout, confidence, confidence_threshold, zero_is_missing)
    pts = prepared.points
    t = pts.shape[1]
    if cutoff >= rate / 2:
        warnings.warn(
            f"cutoff_hz={cutoff} is at or above the Nyquist frequency fps/2 = {rate / 2}; nothing is "
            "filtered. Lower cutoff_hz or pass the true fps.",
            stacklevel=2,
        )
        return prepared.restore(pts)
    if t == 1:
        return prepared.restore(pts)
    sos = scipy.signal.butter(order, cutoff, btype="low", fs=rate, output="sos")
    default_pad = 3 * (2 * len(sos) + 1)  # sosfiltfilt's own default
    padlen = min(t - 1, max(default_pad, math.ceil(rate / cutoff)))
    out = scipy.signal.sosfiltfilt(sos, pts, axis=1, padtype="odd", padlen=padlen)
    return prepared.restore(out)


# ----------------------------------------------------------------------------------------
# Kalman filter with Rauch-Tung-Striebel smoothing


def _constant_acceleration_model(dt: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Transition matrix and process noise of (position, velocity, acceleration) driven by
    continuous white-noise jerk of spectral density ``q`` over a step of ``dt`` seconds."""
    f = np.array([[1.0, dt, dt * dt / 2.0], [0.0, 1.0, dt], [0.0, 0.0, 1.0]])
    qm = q * np.array(
        [
            [dt**5 / 20.0, dt**4 / 8.0, dt**3 / 6.0],
            [dt**4 / 8.0, dt**3 / 3.0, dt**2 / 2.0],
            [dt**3 / 6.0, dt**2 / 2.0, dt],
        ]
    )
    return f, qm


def kalman(
    keypoints: Any,
    kind: str = "2d",
    *,
    fps: float | None = None,
    process_noise: float = DEFAULT_PARAMS["kalman"]["process_noise"],
    measurement_noise: float = DEFAULT_PARAMS["kalman"]["measurement_noise"],
    scale: float | None = None,
    layout: str | Layout | None = None,
    confidence: Any = None,
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD,
    zero_is_missing: bool | None = None,
) -> Any:
    """Constant-acceleration Kalman filter and Rauch-Tung-Striebel smoother along time.

    Each coordinate of each keypoint is a (position, velocity, acceleration) state driven by
    random jerk (continuous white noise of spectral density ``process_noise``) and observed
    with white noise of standard deviation ``measurement_noise`` at 30 fps; the forward
    Kalman filter and the backward RTS pass give the best linear estimate from the whole
    sequence: zero lag, and a straight line or a parabola is kept. Missing points are not
    measurements: the update step is skipped for them and the smoother bridges the gap with
    the motion model. Before a point's first observation and after its last, the estimate at
    that observation is held (as the filling of missing points does), because extrapolating
    a constant-acceleration model drifts away; a joint never observed in a track follows its
    filled values (the centroid of the other joints). All tracks, joints and coordinates are
    filtered at once.

    Distances are in units of ``scale``: by default each track's pose size
    (:func:`pose_scale`), so ``measurement_noise=0.01`` means 1 % of the body size. In the
    middle of a long sequence the smoother halves the amplitude of a sine at
    ``(30 * process_noise / measurement_noise**2) ** (1/6) / (2 pi)`` Hz (4.1 Hz at the
    defaults), passes slower motion almost unchanged and removes faster motion.

    Frame rate: the noise is taken to have a fixed density, so its per-frame standard
    deviation is ``measurement_noise * sqrt(fps / 30)``. This keeps the response in Hz, and
    so a tuned setting, the same at any frame rate (with a fixed per-frame noise the
    smoother would trust 60 fps input more and smooth less).

    Ends: no padding is needed; the first frame starts from its (filled) position with zero
    velocity and acceleration and a wide prior, so the ends are estimated from one side only
    (noisier than the middle, but without bias). Any T >= 1 works.

    Args:
        keypoints: ``(T, J, D)`` or ``(N, T, J, D)`` NumPy array or torch tensor.
        kind: ``"2d"`` or ``"3d"``.
        fps: frame rate; default 30.
        process_noise: spectral density of the jerk, scale units^2 / s^5. Higher: follows
            the input more closely.
        measurement_noise: standard deviation of the input's noise at 30 fps, scale units.
            Higher: smoother.
        scale: distance unit; default each track's pose size; ``1.0`` for raw units.
        layout, confidence, confidence_threshold, zero_is_missing: as in :func:`one_euro`.

    Returns:
        Smoothed keypoints, same shape, type, device and float dtype as ``keypoints``.

    Raises:
        ValueError: on a bad kind, shape, layout or parameter, or ``kind="smpl"``.

    Shape:
        keypoints: ``(T, J, D)`` or ``(N, T, J, D)``; returns the same.

    Example:
        >>> smooth = kalman(kps, fps=30, process_noise=1e3, measurement_noise=0.01)
    """
    rate = _fps(fps)
    q = _positive("process_noise", process_noise)
    # Noise of fixed density: the per-frame variance grows with fps, which keeps the response
    # in Hz the same at every frame rate (see the docstring).
    r = _positive("measurement_noise", measurement_noise) ** 2 * rate / DEFAULT_FPS
    scale = _scale_arg(scale)
    prepared = _prepare(keypoints, kind, layout, confidence, confidence_threshold, zero_is_missing)
    pts, missing = prepared.points, prepared.mask
    b, t, j, d = pts.shape
    track_scale = pose_scale(pts, missing) if scale is None else np.full(b, scale)
    z = (pts / track_scale[:, None, None, None]).transpose(1, 0, 2, 3).reshape(t, b * j, d)  # t m d
    measured = ~missing | missing.all(axis=1, keepdims=True)  # b t j; never-seen joints: filled values
    seen = measured.transpose(1, 0, 2).reshape(t, b * j)  # t m
    m_count = b * j
    f, qm = _constant_acceleration_model(1.0 / rate, q)

    # A wide prior: position within a pose size, speed within 10 sizes/s, acceleration 100/s^2.
    mean = np.zeros((m_count, 3, d))
    mean[:, 0] = z[0]
    cov = np.broadcast_to(np.diag([1.0, 1e2, 1e4]), (m_count, 3, 3)).copy()
    means_f = np.empty((t, m_count, 3, d))
    covs_f = np.empty((t, m_count, 3, 3))
    covs_p = np.empty((t, m_count, 3, 3))
    for k in range(t):
        if k > 0:
            mean = np.einsum("ab,mbd->mad", f, mean)
            cov = f @ cov @ f.T + qm
        covs_p[k] = cov
        # Update with the position measurement where the point was seen.
        s = cov[:, 0, 0] + r  # m
        gain = cov[:, :, 0] / s[:, None]  # m 3
        innov = z[k] - mean[:, 0]  # m d
        obs = seen[k][:, None]
        mean = mean + np.where(obs[:, :, None], gain[:, :, None] * innov[:, None, :], 0.0)
        cov = np.where(obs[:, :, None], cov - gain[:, :, None] * gain[:, None, :] * s[:, None, None], cov)
        means_f[k], covs_f[k] = mean, cov

    smoothed = np.empty((t, m_count, d))
    mean_s = means_f[-1]
    smoothed[-1] = mean_s[:, 0]
    for k in range(t - 2, -1, -1):
        # RTS gain G = P_f F^T P_pred^-1 (P_pred symmetric positive definite).
        g = np.linalg.solve(covs_p[k + 1], (covs_f[k] @ f.T).transpose(0, 2, 1)).transpose(0, 2, 1)
        pred = np.einsum("ab,mbd->mad", f, means_f[k])
        mean_s = means_f[k] + g @ (mean_s - pred)
        smoothed[k] = mean_s[:, 0]
    out = smoothed.reshape(t, b, j, d).transpose(1, 0, 2, 3) * track_scale[:, None, None, None]
    # Hold the estimate at the first (last) observation over the frames before (after) it.
    first = measured.argmax(axis=1)  # b j
    last = t - 1 - measured[:, ::-1].argmax(axis=1)
    frame = np.clip(np.arange(t)[None, :, None], first[:, None, :], last[:, None, :])  # b t j
    out = np.take_along_axis(out, frame[..., None], axis=1)
    return prepared.restore(out)


#: The filters by name, for benchmarks that loop over them.
FILTERS = {
    "one_euro": one_euro,
    "savgol": savgol,
    "gaussian": gaussian,
    "butterworth": butterworth,
    "kalman": kalman,
}

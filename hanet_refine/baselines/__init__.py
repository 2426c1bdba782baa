"""Baselines to compare HANet against, callable like ``hanet_refine.refine``.

Classical filters (NumPy/SciPy, no training): :func:`one_euro` (and the streaming
:class:`OneEuroFilter`), :func:`savgol`, :func:`gaussian`, :func:`butterworth` and
:func:`kalman`; each takes ``(T, J, D)`` or ``(N, T, J, D)`` 2d/3d keypoints and returns the
same shape and type, with missing points handled as ``refine`` handles them.
:class:`SmoothNet` is the temporal MLP of Zeng et al. (2022), trained by our trainer.

``DEFAULT_PARAMS[name]`` holds each filter's default keyword arguments and
``PARAM_GRID[name]`` a small grid for tuning it; ``FILTERS[name]`` is the function.

Example:
    >>> from hanet_refine.baselines import FILTERS, PARAM_GRID
    >>> smooth = FILTERS["butterworth"](keypoints, "2d", fps=30, cutoff_hz=4.0)
"""

from __future__ import annotations

from .classical import DEFAULT_FPS as DEFAULT_FPS
from .classical import DEFAULT_PARAMS as DEFAULT_PARAMS
from .classical import FILTERS as FILTERS
from .classical import PARAM_GRID as PARAM_GRID
from .classical import OneEuroFilter as OneEuroFilter
from .classical import butterworth as butterworth
from .classical import gaussian as gaussian
from .classical import kalman as kalman
from .classical import one_euro as one_euro
from .classical import pose_scale as pose_scale
from .classical import savgol as savgol
from .smoothnet import SmoothNet as SmoothNet

__all__ = [
    "DEFAULT_FPS",
    "DEFAULT_PARAMS",
    "FILTERS",
    "PARAM_GRID",
    "OneEuroFilter",
    "SmoothNet",
    "butterworth",
    "gaussian",
    "kalman",
    "one_euro",
    "pose_scale",
    "savgol",
]

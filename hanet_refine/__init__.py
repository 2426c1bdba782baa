"""hanet_refine: refine pose-estimator keypoint sequences with HANet (Jin et al., WACV 2023).

Example:
    >>> import hanet_refine
    >>> refined = hanet_refine.refine(keypoints, kind="2d")   # (T, J, 2) in, (T, J, 2) out
"""

from __future__ import annotations

__version__ = "0.1.0"

from .layouts import LAYOUTS as LAYOUTS
from .layouts import get_layout as get_layout
from .model import HANet as HANet
from .refine import refine as refine
from .refiner import Refiner as Refiner
from .registry import PRETRAINED as PRETRAINED
from .registry import list_pretrained as list_pretrained

__all__ = ["__version__", "refine", "Refiner", "HANet", "list_pretrained", "PRETRAINED", "LAYOUTS", "get_layout"]

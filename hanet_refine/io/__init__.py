"""Reading and writing what pose estimators write, and refining it file to file.

Formats (see each module): OpenPose ``--write_json`` folders (:mod:`.openpose`), COCO-style
keypoint results from ViTPose / MMPose / RTMPose / Detectron2 (:mod:`.coco`), MMPose
inferencer predictions (:mod:`.mmpose`), MediaPipe Pose landmarks (:mod:`.mediapipe`) and
NumPy arrays (:mod:`.numpy_io`). Every reader returns a :class:`PoseSequence`; :func:`write`
writes it back in the same format, changing nothing but the keypoints.

Example:
    >>> from hanet_refine.io import refine_file
    >>> refine_file("output_json/", "refined_json/")  # doctest: +SKIP
"""

from __future__ import annotations

from ._files import FormatError as FormatError
from .coco import read_coco as read_coco
from .coco import write_coco as write_coco
from .formats import FORMATS as FORMATS
from .formats import detect_format as detect_format
from .formats import read as read
from .formats import write as write
from .mediapipe import read_mediapipe as read_mediapipe
from .mediapipe import write_mediapipe as write_mediapipe
from .mmpose import read_mmpose as read_mmpose
from .mmpose import write_mmpose as write_mmpose
from .numpy_io import read_numpy as read_numpy
from .numpy_io import write_numpy as write_numpy
from .openpose import read_openpose as read_openpose
from .openpose import write_openpose as write_openpose
from .pipeline import DEFAULT_FILL_SCORE as DEFAULT_FILL_SCORE
from .pipeline import RefineSummary as RefineSummary
from .pipeline import assign_tracks as assign_tracks
from .pipeline import refine_file as refine_file
from .pipeline import refine_sequence as refine_sequence
from .sequence import PoseSequence as PoseSequence
from .sequence import Track as Track

__all__ = [
    "DEFAULT_FILL_SCORE",
    "FORMATS",
    "FormatError",
    "PoseSequence",
    "RefineSummary",
    "Track",
    "assign_tracks",
    "detect_format",
    "read",
    "read_coco",
    "read_mediapipe",
    "read_mmpose",
    "read_numpy",
    "read_openpose",
    "refine_file",
    "refine_sequence",
    "write",
    "write_coco",
    "write_mediapipe",
    "write_mmpose",
    "write_numpy",
    "write_openpose",
]

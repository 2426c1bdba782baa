"""Pretrained weights: the registry, and where a model's files are found.

Resolution order for ``weights=None`` or a registered name:
1. the Hugging Face Hub cache (no network: ``try_to_load_from_cache``),
2. the copy packaged with the library,
3. a download from the Hub, only when no packaged copy exists.
An explicit local directory or ``.safetensors`` file is used as it is; any other string
that is not a registered name is read as a Hub repo id (``owner/name`` or
``owner/name@revision``) and downloaded (the Hub client honours ``HF_HUB_OFFLINE``).
Registered files are checked against their sha256 before loading.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import hf_hub_download, try_to_load_from_cache
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
from safetensors import SafetensorError
from safetensors.torch import load_file

from .refiner import Refiner

__all__ = ["PretrainedWeights", "PRETRAINED", "list_pretrained", "pretrained_layouts", "has_pretrained", "default_weights", "resolve_weights",
           "load_refiner", "WEIGHTS_FILE", "CONFIG_FILE"]

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class PretrainedWeights:
    """One pretrained model.

    Attributes:
        name: registry name and folder under ``weights/``.
        kind: ``"2d"``, ``"3d"`` or ``"smpl"``.
        layout: keypoint layout.
        repo_id: Hugging Face Hub repository.
        revision: Hub revision (branch, tag or commit).
        sha256: sha256 of ``model.safetensors``.
        window: frames per window; sample_interval: the encoder's N.
        fps: frame rate it was trained at.
        training_data: what it was trained on.
        license: the weights' license (that of the training data).
        architecture: ``"hanet"``, or ``"smoothnet"`` for the SmoothNet baseline (never a
            default).
    """

    name: str
    kind: str
    layout: str
    repo_id: str
    revision: str
    sha256: str
    window: int
    sample_interval: int
    fps: float
    training_data: str
    license: str
    architecture: str = "hanet"


_BANDAI = "Bandai Namco Research Motion Dataset 1+2 (3.9 h optical mocap) with estimator-like corruption"

#: Registered pretrained models, by name.
PRETRAINED: dict[str, PretrainedWeights] = {
    w.name: w
    for w in (
        PretrainedWeights(
            name="hanet-2d-body25", kind="2d", layout="body25", repo_id="hanet-refine/hanet-2d-body25",
            revision="main", sha256="d8a4eb6727dff47edd12108241c5ea082b65b934a90cbad19be8d7b7d139ae23",
            window=33, sample_interval=2, fps=30.0, training_data=_BANDAI,
            license="CC-BY-NC-4.0", architecture="hanet",
        ),
        PretrainedWeights(
            name="hanet-2d-coco17", kind="2d", layout="coco17", repo_id="hanet-refine/hanet-2d-coco17",
            revision="main", sha256="489a0a676a454f9128680d4c022e8f221779ba8ac699fe065ca2b57c9c891a38",
            window=33, sample_interval=2, fps=30.0, training_data=_BANDAI,
            license="CC-BY-NC-4.0", architecture="hanet",
        ),
        PretrainedWeights(
            name="hanet-3d-h36m17", kind="3d", layout="h36m17", repo_id="hanet-refine/hanet-3d-h36m17",
            revision="main", sha256="36c902298e4313d03f8c91b683f34287c04d22f5b2caa8222f9c91fdbf16adad",
            window=33, sample_interval=4, fps=30.0, training_data=_BANDAI,
            license="CC-BY-NC-4.0", architecture="hanet",
        ),
        PretrainedWeights(
            name="hanet-smpl24", kind="smpl", layout="smpl24", repo_id="hanet-refine/hanet-smpl24",
            revision="main", sha256="af7b21f09ee8b8278a35a579897911eefbb9da82e6d8c6c2d9c487189c16157d",
            window=33, sample_interval=4, fps=30.0, training_data=_BANDAI,
            license="CC-BY-NC-4.0", architecture="hanet",
        ),
        PretrainedWeights(
            name="smoothnet-2d-coco17", kind="2d", layout="coco17", repo_id="hanet-refine/smoothnet-2d-coco17",
            revision="main", sha256="bb467c58e69bd22f3060139e8c7fbf2d09ec9a4b48d74c663e155fab91848298",
            window=33, sample_interval=1, fps=30.0, training_data=_BANDAI,
            license="CC-BY-NC-4.0", architecture="smoothnet",
        ),
        PretrainedWeights(
            name="smoothnet-3d-h36m17", kind="3d", layout="h36m17", repo_id="hanet-refine/smoothnet-3d-h36m17",
            revision="main", sha256="8cc61f281aed30237e1676e52ee97e4409acfffb2d918f418e4fef4d8a2889b5",
            window=33, sample_interval=1, fps=30.0, training_data=_BANDAI,
            license="CC-BY-NC-4.0", architecture="smoothnet",
        ),
    )
}


def list_pretrained(kind: str | None = None) -> list[str]:
    """Names of the registered pretrained models, optionally of one kind."""
    return sorted(n for n, w in PRETRAINED.items() if kind is None or w.kind == kind)


def pretrained_layouts(kind: str) -> list[str]:
    """Layouts that have a pretrained HANet model of ``kind``."""
    return [w.layout for w in PRETRAINED.values() if w.kind == kind and w.architecture == "hanet"]


def has_pretrained(kind: str, layout: str) -> bool:
    """Whether a pretrained HANet model is registered for ``kind`` and ``layout``."""
    return any(w.kind == kind and w.layout == layout and w.architecture == "hanet" for w in PRETRAINED.values())


def default_weights(kind: str, layout: str) -> PretrainedWeights:
    """The registered model for ``kind`` and ``layout``.

    Raises:
        ValueError: if none is registered; the message lists what is.
    """
    for w in PRETRAINED.values():
        if w.kind == kind and w.layout == layout and w.architecture == "hanet":
            return w
    have = [f"{w.name} ({w.kind}, {w.layout})" for w in PRETRAINED.values()] or ["none yet"]
    raise ValueError(f"no pretrained model for kind={kind!r}, layout={layout!r}; registered: {', '.join(have)}. "
                     "Pass weights= a model directory, a .safetensors file or a Hub repo id, or convert your "
                     "keypoints to a layout that has one")


def _packaged_dir(name: str) -> Path | None:
    # An installed wheel has the weights inside the package; a source checkout has them in the
    # top-level weights/ folder next to the package.
    candidates = [Path(str(resources.files("hanet_refine") / "weights" / name)),
                  Path(__file__).resolve().parent.parent / "weights" / name]
    for folder in candidates:
        if (folder / WEIGHTS_FILE).is_file() and (folder / CONFIG_FILE).is_file():
            return folder
    return None


def _hub_cached(repo_id: str, revision: str) -> Path | None:
    found = [try_to_load_from_cache(repo_id, f, revision=revision) for f in (WEIGHTS_FILE, CONFIG_FILE)]
    if all(isinstance(f, str) for f in found):
        return Path(found[0]).parent
    return None


def _hub_download(repo_id: str, revision: str | None) -> Path:
    from . import __version__

    try:
        paths = [hf_hub_download(repo_id, f, revision=revision, library_name="hanet-refine",
                                 library_version=__version__) for f in (CONFIG_FILE, WEIGHTS_FILE)]
    except LocalEntryNotFoundError as err:
        raise FileNotFoundError(f"weights {repo_id!r} are not in the Hub cache and the Hub cannot be reached "
                                f"({err}); download them on a connected machine or pass a local directory") from None
    except HfHubHTTPError as err:
        raise FileNotFoundError(f"could not download weights {repo_id!r} from the Hugging Face Hub: {err}") from None
    return Path(paths[1]).parent


def resolve_weights(weights: str | Path | None, kind: str, layout: str) -> tuple[Path, str | None]:
    """Find a model's folder; returns ``(folder, expected sha256 or None)``.

    Raises:
        FileNotFoundError: a path that does not exist, or a Hub model that cannot be fetched.
        ValueError: no pretrained model for ``kind`` and ``layout``.
    """
    entry = None
    if weights is None:
        entry = default_weights(kind, layout)
    elif isinstance(weights, str) and weights in PRETRAINED:
        entry = PRETRAINED[weights]
    if entry is not None:
        folder = _hub_cached(entry.repo_id, entry.revision) or _packaged_dir(entry.name)
        if folder is None:
            logger.info("downloading %s from the Hugging Face Hub (%s)", entry.name, entry.repo_id)
            folder = _hub_download(entry.repo_id, entry.revision)
        return folder, entry.sha256
    path = Path(weights)
    if path.is_dir():
        return path, None
    if path.is_file():
        if path.suffix != ".safetensors":
            raise ValueError(f"weights file {str(path)!r} is not a .safetensors file; pass the model folder or "
                             f"its {WEIGHTS_FILE}")
        return path.parent, None
    text = str(weights)
    looks_like_repo = text.count("/") == 1 and not text.startswith((".", "/", "~")) and not path.suffix
    if isinstance(weights, str) and looks_like_repo:
        repo_id, _, revision = text.partition("@")
        return _hub_download(repo_id, revision or None), None
    raise FileNotFoundError(f"weights {text!r} is neither an existing file or folder, a registered model "
                            f"({', '.join(list_pretrained()) or 'none registered yet'}) nor a Hub repo id "
                            "('owner/name')")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {CONFIG_FILE} in {str(folder)!r}; a model folder holds {CONFIG_FILE} and "
                                f"{WEIGHTS_FILE} (as written by Refiner.save_pretrained)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{str(path)!r} is not valid JSON: {err}") from None


@lru_cache(maxsize=16)
def _load_cached(folder: str, sha256: str | None, device: str, mtime: float) -> Refiner:
    del mtime  # part of the cache key only: a rewritten file is loaded again
    folder_path = Path(folder)
    weights_path = folder_path / WEIGHTS_FILE
    if not weights_path.is_file():
        raise FileNotFoundError(f"no {WEIGHTS_FILE} in {folder!r}")
    if sha256 is not None and (actual := _sha256(weights_path)) != sha256:
        raise ValueError(f"{str(weights_path)!r} has sha256 {actual}, expected {sha256}: the file is corrupt "
                         "or not the registered model; delete it to fetch it again")
    config = read_config(folder_path)
    try:
        refiner = Refiner(**config)
    except TypeError as err:
        raise ValueError(f"{str(folder_path / CONFIG_FILE)!r} does not describe a Refiner: {err}") from None
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError) as err:
        raise ValueError(f"cannot read {str(weights_path)!r}: {err}; the file is corrupt or not safetensors") from None
    try:
        refiner.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{str(weights_path)!r} does not match its {CONFIG_FILE}: {err}") from None
    return refiner.to(device).eval()


def load_refiner(weights: str | Path | None, kind: str, layout: str, device: str | torch.device = "cpu") -> Refiner:
    """Resolve, verify and load a :class:`Refiner` (cached per folder and device).

    Raises:
        ValueError: if the model is for another kind or layout, or its files are corrupt.
    """
    folder, sha = resolve_weights(weights, kind, layout)
    weights_path = folder / WEIGHTS_FILE
    mtime = weights_path.stat().st_mtime if weights_path.is_file() else 0.0
    refiner = _load_cached(str(folder.resolve()), sha, str(torch.device(device)), mtime)
    if refiner.kind != kind or refiner.layout.name != layout:
        raise ValueError(f"weights {str(folder)!r} are for kind={refiner.kind!r}, layout={refiner.layout.name!r}, "
                         f"but the keypoints are kind={kind!r}, layout={layout!r}")
    return refiner

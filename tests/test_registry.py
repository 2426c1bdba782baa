import hashlib
import shutil
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest

from hanet_refine import refine, registry
from hanet_refine.registry import PretrainedWeights, list_pretrained, load_refiner, resolve_weights

REPO = "someone/hanet-2d-test"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hub_cache(root: Path, source: Path) -> Path:
    """A Hub cache folder laid out as huggingface_hub writes it."""
    repo = root / f"models--{REPO.replace('/', '--')}"
    snap = repo / "snapshots" / COMMIT
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    for name in ("config.json", "model.safetensors"):
        shutil.copy(source / name, snap / name)
    return snap


@pytest.fixture
def setup(tmp_path, tiny_weights, monkeypatch):
    source = tiny_weights("2d", "coco17")
    entry = PretrainedWeights(
        name="hanet-2d-test", kind="2d", layout="coco17", repo_id=REPO, revision="main",
        sha256=sha(source / "model.safetensors"), window=5, sample_interval=1, fps=30.0,
        training_data="random (test)", license="MIT",
    )
    monkeypatch.setattr(registry, "PRETRAINED", {entry.name: entry})  # only this model is registered
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    packaged = tmp_path / "packaged" / entry.name
    shutil.copytree(source, packaged)
    monkeypatch.setattr(registry, "_packaged_dir", lambda name: packaged if name == entry.name and packaged.exists() else None)
    downloads = []

    def fake_download(repo_id, filename, *, revision=None, library_name=None, library_version=None, **kw):
        downloads.append((repo_id, filename, revision, library_name))
        target = tmp_path / "downloaded" / filename
        target.parent.mkdir(exist_ok=True)
        shutil.copy(source / filename, target)
        return str(target)

    monkeypatch.setattr(registry, "hf_hub_download", fake_download)
    registry._load_cached.cache_clear()
    return entry, source, packaged, downloads, tmp_path


def test_packaged_copy_used_without_network(setup):
    entry, _, packaged, downloads, _ = setup
    assert list_pretrained("2d") == [entry.name]
    folder, expected = resolve_weights(None, "2d", "coco17")
    assert folder == packaged and expected == entry.sha256 and downloads == []
    x = np.random.default_rng(0).normal(size=(30, 17, 2)) * 10 + 100
    assert refine(x).shape == x.shape and downloads == []


def test_hub_cache_beats_packaged(setup):
    entry, source, _, downloads, tmp_path = setup
    snap = hub_cache(tmp_path / "hub", source)
    assert resolve_weights(entry.name, "2d", "coco17")[0] == snap
    assert downloads == []


def test_download_only_without_packaged_copy(setup):
    entry, _, packaged, downloads, _ = setup
    shutil.rmtree(packaged)
    folder, _ = resolve_weights(None, "2d", "coco17")
    assert (folder / "model.safetensors").is_file()
    assert {d[1] for d in downloads} == {"config.json", "model.safetensors"}
    assert all(d[0] == REPO and d[2] == "main" and d[3] == "hanet-refine" for d in downloads)


def test_explicit_repo_id_with_revision(setup):
    _, _, _, downloads, _ = setup
    resolve_weights("owner/other@v1", "2d", "coco17")
    assert downloads[0][0] == "owner/other" and downloads[0][2] == "v1"


def test_explicit_folder_and_file(setup):
    _, source, _, downloads, _ = setup
    assert resolve_weights(str(source), "2d", "coco17") == (source, None)
    assert resolve_weights(source / "model.safetensors", "2d", "coco17") == (source, None)
    assert downloads == []


def test_sha256_mismatch(setup):
    entry, _, packaged, _, _ = setup
    data = bytearray((packaged / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (packaged / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"expected {entry.sha256}"):
        load_refiner(None, "2d", "coco17")


def test_corrupt_file(tmp_path, tiny_weights):
    folder = tmp_path / "corrupt"
    shutil.copytree(tiny_weights("2d", "coco17"), folder)
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="corrupt or not safetensors"):
        load_refiner(folder, "2d", "coco17")


def test_weights_not_matching_config(tmp_path, tiny_weights):
    folder = tmp_path / "mismatch"
    shutil.copytree(tiny_weights("2d", "coco17"), folder)
    shutil.copy(tiny_weights("2d", "coco17", dim=16) / "model.safetensors", folder / "model.safetensors")
    with pytest.raises(ValueError, match="does not match its config.json"):
        load_refiner(folder, "2d", "coco17")


def test_missing_config(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_refiner(tmp_path, "2d", "coco17")


def test_not_safetensors_file(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="not a .safetensors file"):
        resolve_weights(path, "2d", "coco17")


def test_no_pretrained_for_layout():
    with pytest.raises(ValueError, match="no pretrained model for kind='2d', layout='mediapipe33'"):
        resolve_weights(None, "2d", "mediapipe33")


def test_loaded_model_is_cached(tiny_weights):
    folder = tiny_weights("2d", "coco17")
    a = load_refiner(folder, "2d", "coco17")
    assert load_refiner(folder, "2d", "coco17") is a
    assert not a.training

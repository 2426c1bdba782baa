from __future__ import annotations

import random
from collections import Counter

import pytest

from hanet_refine.train.bvh import archive_paths, list_archive
from hanet_refine.train.splits import SPLITS, file_key, load_splits, make_splits, split_of


@pytest.fixture(scope="module")
def committed() -> dict[str, list[str]]:
    return load_splits()


def test_every_file_on_exactly_one_side(committed):
    seen = Counter(n for s in SPLITS for n in committed[s])
    assert max(seen.values()) == 1
    assert len(seen) == 3076  # the archives' BVH files (dataset-1: 174, dataset-2: 2902)
    sizes = {s: len(committed[s]) for s in SPLITS}
    total = sum(sizes.values())
    assert 0.75 < sizes["train"] / total < 0.85
    assert 0.08 < sizes["validation"] / total < 0.12 and 0.08 < sizes["test"] / total < 0.12


def test_contents_and_styles_on_train_and_test(committed):
    def keys(split: str, pick) -> set:
        return {pick(file_key(n)) for n in committed[split]}

    all_files = [n for s in SPLITS for n in committed[s]]
    content_files = Counter((k[0], k[1]) for k in map(file_key, all_files))
    styles = {(k[0], k[2]) for k in map(file_key, all_files)}
    for side in ("train", "test"):
        contents = keys(side, lambda k: (k[0], k[1]))
        # Contents of one file only cannot be on both sides; every other one is.
        assert {c for c, n in content_files.items() if n >= 2} <= contents, side
        assert styles == keys(side, lambda k: (k[0], k[2])), side
    # Contents of three files or more are on the validation side too.
    assert {c for c, n in content_files.items() if n >= 3} <= keys("validation", lambda k: (k[0], k[1]))


def test_split_is_deterministic_and_order_free(committed):
    names = [n for s in SPLITS for n in committed[s]]
    shuffled = names[:]
    random.Random(1).shuffle(shuffled)
    assert make_splits(shuffled) == committed  # the committed file is what the code makes
    other = make_splits(names, seed=1)
    assert other != committed
    assert sorted(n for s in SPLITS for n in other[s]) == sorted(names)


def test_small_groups_and_errors():
    names = ["dataset-1_kick_normal_001", "dataset-1_punch_normal_001.bvh", "dataset-1_punch_angry_001.bvh"]
    out = make_splits(names)
    assert out["train"] == ["dataset-1_kick_normal_001", *[n for n in out["train"] if "punch" in n]]
    assert sum("punch" in n for n in out["test"]) == 1  # a two-file content: one on each side
    with pytest.raises(ValueError, match="duplicate"):
        make_splits(["dataset-1_walk_normal_001", "x/dataset-1_walk_normal_001.bvh"])
    with pytest.raises(ValueError, match="not a Bandai-Namco"):
        make_splits(["walk.bvh"])
    assert split_of("dataset-1_walk_normal_001.bvh") in SPLITS
    with pytest.raises(ValueError, match="not in the committed split"):
        split_of("dataset-3_fly_normal_001")


def test_committed_split_matches_archive_1():
    try:
        archive = archive_paths()[0]
    except FileNotFoundError:
        pytest.skip("mocap archives not found (set HANET_MOCAP_DIR)")
    names = {n[:-4] for n in list_archive(archive)}  # dataset 1: 7 MB, about a second
    committed = {n for s in SPLITS for n in load_splits()[s] if n.startswith("dataset-1_")}
    assert names == committed

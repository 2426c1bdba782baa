"""Train / validation / test split of the Bandai-Namco mocap by whole file.

The actor is not in the file names, so no split by subject is possible: every file goes to
exactly one side, never windows of one file to two sides. The split is stratified:
files are grouped by (dataset, content); in each group about 10 % go to test and 10 % to
validation (at least one each in groups of three files or more, one to test in groups of
two, none out of one-file groups), choosing each time the file whose (content, style) cell
and whose style are least represented on that side so far (ties broken by a seeded hash of
the name). So every content of two files or more and every style is on both train and test,
and the large cells of dataset 2 are split about 80 / 10 / 10 each.

The committed list ``splits.json`` is what training and evaluation use; it is regenerated
(identically) by ``python -m hanet_refine.train.splits --write``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

__all__ = ["SPLITS", "file_key", "load_splits", "make_splits", "split_of"]

SPLITS = ("train", "validation", "test")
SPLITS_RESOURCE = "splits.json"
_FRACTION = 0.1  # of each (dataset, content) group, for validation and for test each


def file_key(name: str) -> tuple[str, str, str]:
    """``(dataset, content, style)`` of a file name ``dataset-N_content_style_id[.bvh]``.

    Raises:
        ValueError: if the name does not follow that pattern.
    """
    from hanet_refine.train.bvh import parse_archive_name  # the one parser of these names

    parts = parse_archive_name(name)
    return f"dataset-{parts['dataset']}", str(parts["content"]), str(parts["style"])


def _stem(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return base[:-4] if base.lower().endswith(".bvh") else base


def _hash(name: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def _quota(n: int) -> tuple[int, int]:
    """(validation, test) file counts for a group of ``n`` files."""
    if n <= 1:
        return 0, 0
    if n == 2:
        return 0, 1
    k = max(1, int(n * _FRACTION + 0.5))
    return k, k


def make_splits(names: Iterable[str], *, seed: int = 0) -> dict[str, list[str]]:
    """Split file names into train / validation / test (see the module docstring).

    Args:
        names: file names, with or without folder and ``.bvh``.
        seed: tie-breaking seed; the result is a deterministic function of names and seed
            (the input order does not matter).

    Returns:
        ``{"train": [...], "validation": [...], "test": [...]}`` of sorted stems (no ``.bvh``).

    Raises:
        ValueError: on a name that is not a Bandai-Namco file name, or a duplicate.
    """
    stems = [_stem(n) for n in names]
    dupes = [n for n, c in Counter(stems).items() if c > 1]
    if dupes:
        raise ValueError(f"duplicate file names: {sorted(dupes)[:5]}")
    keys = {n: file_key(n) for n in stems}
    order = {n: _hash(n, seed) for n in stems}
    cell_total = Counter(keys.values())
    style_total = Counter((k[0], k[2]) for k in keys.values())
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for n, (ds, content, _style) in keys.items():
        groups[(ds, content)].append(n)

    side: dict[str, str] = {}
    cell_count: dict[str, Counter] = {s: Counter() for s in SPLITS}
    style_count: dict[str, Counter] = {s: Counter() for s in SPLITS}
    for group in sorted(groups):
        remaining = sorted(groups[group], key=order.__getitem__)
        n_val, n_test = _quota(len(remaining))
        for split, quota in (("test", n_test), ("validation", n_val)):
            for _ in range(quota):

                def need(n: str, split: str = split) -> tuple[float, float, str]:
                    ds, _content, style = keys[n]
                    return (
                        cell_count[split][keys[n]] / cell_total[keys[n]],
                        style_count[split][(ds, style)] / style_total[(ds, style)],
                        order[n],
                    )

                pick = min(remaining, key=need)
                remaining.remove(pick)
                side[pick] = split
                cell_count[split][keys[pick]] += 1
                style_count[split][(keys[pick][0], keys[pick][2])] += 1
        for n in remaining:
            side[n] = "train"
    return {s: sorted(n for n, v in side.items() if v == s) for s in SPLITS}


@lru_cache(maxsize=1)
def _committed() -> dict[str, list[str]]:
    text = resources.files("hanet_refine.train").joinpath(SPLITS_RESOURCE).read_text("utf-8")
    data = json.loads(text)
    return {s: list(data["splits"][s]) for s in SPLITS}


def load_splits(path: str | os.PathLike[str] | None = None) -> dict[str, list[str]]:
    """The split lists: the committed ``splits.json`` of the package, or the file at ``path``.

    Returns:
        ``{"train": [...], "validation": [...], "test": [...]}`` of file stems.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
    """
    if path is None:
        return {s: list(v) for s, v in _committed().items()}
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split file not found: {str(path)!r}")
    data = json.loads(path.read_text("utf-8"))
    return {s: list(data["splits"][s]) for s in SPLITS}


def split_of(name: str) -> str:
    """The side ("train", "validation" or "test") of one file in the committed split.

    Raises:
        ValueError: if the file is not in the committed split.
    """
    stem = _stem(name)
    for s, names in _committed().items():
        if stem in names:
            return s
    raise ValueError(
        f"{name!r} is not in the committed split ({SPLITS_RESOURCE}); is it a Bandai-Namco file?"
    )


def summary(splits: dict[str, list[str]]) -> dict[str, dict[str, int]]:
    """Files per split, per dataset."""
    out: dict[str, dict[str, int]] = {}
    for s in SPLITS:
        out[s] = dict(sorted(Counter(file_key(n)[0] for n in splits[s]).items()))
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m hanet_refine.train.splits [--write] [--mocap-dir DIR]``: print or rewrite the split."""
    from hanet_refine.train.bvh import archive_paths, list_archive

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mocap-dir",
        default=None,
        help="folder of the .tar.xz archives "
        "(default: $HANET_MOCAP_DIR or ../shared/data/bandai-namco-motion)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="rewrite hanet_refine/train/splits.json")
    args = parser.parse_args(argv)
    names = [n for archive in archive_paths(args.mocap_dir) for n in list_archive(archive)]
    splits = make_splits(names, seed=args.seed)
    print(json.dumps(summary(splits)))
    if args.write:
        out = Path(__file__).with_name(SPLITS_RESOURCE)  # the source tree's copy, not data
        payload = {
            "description": "Bandai-Namco motion datasets 1 and 2 split by whole file, stratified by "
            "(dataset, content) and style; see hanet_refine/train/splits.py",
            "seed": args.seed,
            "counts": {s: len(v) for s, v in splits.items()},
            "splits": splits,
        }
        out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

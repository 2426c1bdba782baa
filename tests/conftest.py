"""Shared fixtures: tiny random-weight models saved to tmp_path (never registered as pretrained)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hanet_refine import Refiner

TINY = dict(dim=8, num_samples=4, sample_interval=1, encoder_levels=2, decoder_layers=1, heads=2, ffn_ratio=1)


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)  # the suite shares two cores; small models gain nothing from more


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """``tiny_weights(kind="2d", layout="coco17", **overrides) -> Path`` of a random tiny model.

    Made once per argument set and session; tests must not modify the folder.
    """
    made: dict[tuple, Path] = {}

    def make(kind: str = "2d", layout: str = "coco17", **overrides) -> Path:
        key = (kind, layout, tuple(sorted(overrides.items())))
        if key not in made:
            torch.manual_seed(0)
            folder = tmp_path_factory.mktemp(f"tiny-{kind}-{layout}")
            refiner = Refiner(kind=kind, layout=layout, **{**TINY, **overrides})
            for head in (refiner.model.coarse_head, refiner.model.final_head):
                torch.nn.init.normal_(head.weight, std=0.1)  # zero (identity) at init; random as if trained
            refiner.save_pretrained(folder)
            made[key] = folder
        return made[key]

    return make

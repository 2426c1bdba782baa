"""The README's quick start runs as written, on the packaged example data and weights."""

import os
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def test_quick_start_snippet_runs(monkeypatch):
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the packaged weights must need no network
    namespace: dict = {}
    exec(compile(code, "README quick start", "exec"), namespace)
    keypoints, refined = namespace["keypoints"], namespace["refined"]
    assert refined.shape == keypoints.shape and np.isfinite(refined).all()
    assert np.array_equal(refined[..., 2], keypoints[..., 2])
    assert os.environ["HF_HUB_OFFLINE"] == "1"

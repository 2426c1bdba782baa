import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hanet_refine import refine
from hanet_refine.train.batches import ArraySampler, prepare_batch
from hanet_refine.train.losses import oml_loss
from hanet_refine.train.trainer import TrainConfig, lr_at, train

TINY = dict(sample_interval=1, num_samples=4, dim=8, encoder_levels=2, decoder_layers=1, heads=2, ffn_ratio=1,
            dropout=0.0, norm_first=True)


def pairs(n=3, t=80, seed=0):
    rng = np.random.default_rng(seed)
    time = np.arange(t)[:, None, None]
    clean = [200 + 40 * np.sin(time / 9 + rng.normal(size=(1, 17, 2))) for _ in range(n)]
    noisy = [c + rng.normal(size=c.shape) * 3 for c in clean]
    return noisy, clean


def tiny_config(tmp_path, **kw):
    args = dict(kind="2d", layout="coco17", out_dir=str(tmp_path / "run"), steps=6, batch_size=8, warmup_steps=2,
                eval_every=3, checkpoint_every=3, model=dict(TINY))
    return TrainConfig(**{**args, **kw})


def test_lr_schedule_warms_up_then_decays():
    cfg = TrainConfig(kind="2d", layout="coco17", out_dir="x", steps=100, warmup_steps=10, lr=1.0)
    lrs = [lr_at(s, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] < 0.01


def test_oml_teacher_is_detached():
    torch.manual_seed(0)
    gt = torch.zeros(2, 5, 3, 2)
    final = (torch.randn(2, 5, 3, 2) * 0.1).requires_grad_()  # closer to gt than coarse: the teacher
    coarse = (torch.randn(2, 5, 3, 2) * 1.0).requires_grad_()
    # With final_weight 0 the only path from the loss to `final` is the mutual-learning term.
    loss, parts = oml_loss(final, coarse, gt, torch.arange(5), final_weight=0.0, hard_ratio=0.0)
    loss.backward()
    assert parts["teacher_final"] == 1.0
    assert not final.grad.any()  # the teacher is detached (its own term has weight 0)
    assert coarse.grad.abs().sum() > 0


def test_oml_symmetric_moves_both():
    final = torch.randn(2, 5, 3, 2, requires_grad=True)
    coarse = torch.randn(2, 5, 3, 2, requires_grad=True)
    loss, _ = oml_loss(final, coarse, torch.zeros(2, 5, 3, 2), torch.arange(5), final_weight=0.0,
                       coarse_weight=1.0, hard_ratio=0.0, mode="symmetric")
    (loss - (coarse).abs().mean()).backward()
    assert final.grad.abs().sum() > 0


def test_hard_mining_weights_the_worst_joint_more():
    gt = torch.zeros(1, 4, 4, 1)
    pred = torch.zeros(1, 4, 4, 1)
    pred[..., 0, :] = 1.0
    plain = oml_loss(pred, pred, gt, torch.arange(4), hard_ratio=0.0)[1]["final"]
    mined = oml_loss(pred, pred, gt, torch.arange(4), hard_ratio=0.25)[1]["final"]
    assert plain == pytest.approx(0.25) and mined == pytest.approx(1.25)


def test_bad_oml_mode():
    with pytest.raises(ValueError, match="mode must be one of"):
        oml_loss(torch.zeros(1, 3, 1, 1), torch.zeros(1, 3, 1, 1), torch.zeros(1, 3, 1, 1), torch.arange(3), mode="x")


def test_prepare_batch_matches_refine_rules():
    noisy, clean = pairs(1, 40)
    n = noisy[0].copy()
    n[3, 2] = np.nan
    n[4, 5] = 0.0
    conf = np.ones(n.shape[:2])
    conf[6, 7] = 0.1
    out = prepare_batch({"noisy": n[None], "clean": clean[0][None], "confidence": conf[None]}, "2d")
    assert out["missing"][0, 3, 2] and out["missing"][0, 4, 5] and out["missing"][0, 6, 7]
    assert np.isfinite(out["filled"]).all() and out["missing"].sum() == 3


def test_array_sampler_windows_come_from_one_sequence():
    noisy, clean = pairs(2, 50)
    s = ArraySampler(noisy, clean, window=10, seed=0)
    batch = s.sample(16)
    assert batch["noisy"].shape == (16, 10, 17, 2)
    assert np.allclose(np.abs(batch["noisy"] - batch["clean"]).mean(), 3 * np.sqrt(2 / np.pi), rtol=0.2)
    with pytest.raises(ValueError, match="no sequence has at least 100 frames"):
        ArraySampler(noisy, clean, window=100)


def test_train_improves_resumes_and_exports(tmp_path):
    torch.manual_seed(0)
    noisy, clean = pairs()
    sampler = ArraySampler(noisy, clean, window=5, seed=0)
    val = [ArraySampler(noisy, clean, window=5, seed=1).sample(32)]
    cfg = tiny_config(tmp_path, steps=60, eval_every=30, checkpoint_every=30, lr=3e-3)
    train(cfg, sampler, val, progress=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["step"] for h in history] == [30, 60]
    assert history[-1]["val_model"] < history[-1]["val_raw"]  # it learnt to denoise
    best = tmp_path / "run" / "best"
    assert refine(noisy[0], weights=best).shape == noisy[0].shape
    # Resume: a longer run continues from step 60 instead of starting over.
    cfg.steps = 90
    train(cfg, sampler, val, progress=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["step"] for h in history] == [30, 60, 90]
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"] == 90


def test_finetune_from_pretrained_folder(tmp_path, tiny_weights):
    from hanet_refine.train.finetune import finetune

    noisy, clean = pairs(3, 60)
    out = finetune(tiny_weights("2d", "coco17"), tmp_path / "ft", noisy=noisy, clean=clean, steps=4,
                   batch_size=4, progress=False)
    assert (out / "model.safetensors").is_file()
    assert refine(noisy[0], weights=out).shape == noisy[0].shape
    with pytest.raises(ValueError, match="give either"):
        finetune(tiny_weights("2d", "coco17"), tmp_path / "ft2")


def test_push_to_hub_uploads_model_folder(tmp_path, tiny_weights, monkeypatch):
    from hanet_refine.train import hub

    calls = {}

    class FakeApi:
        def __init__(self, token=None, library_name=None):
            calls["library_name"] = library_name

        def create_repo(self, repo_id, private=None, exist_ok=False):
            calls["create"] = repo_id

        def upload_folder(self, *, folder_path, repo_id, revision, commit_message, allow_patterns):
            calls["upload"] = (folder_path, repo_id, sorted(os.listdir(folder_path)), allow_patterns)
            return "https://huggingface.co/x/commit/1"

    monkeypatch.setattr(hub, "HfApi", FakeApi)
    url = hub.push_to_hub(tiny_weights("2d", "coco17"), "me/hanet-test")
    assert url.endswith("/commit/1") and calls["create"] == "me/hanet-test"
    assert calls["library_name"] == "hanet-refine" and "model.safetensors" in calls["upload"][2]
    with pytest.raises(FileNotFoundError, match="lacks"):
        hub.push_to_hub(tmp_path, "me/x")


DDP_SCRIPT = """
import sys, numpy as np, torch
torch.set_num_threads(1)
from hanet_refine.train.batches import ArraySampler
from hanet_refine.train.trainer import TrainConfig, train
rng = np.random.default_rng(0)
clean = [200 + 40 * np.sin(np.arange(80)[:, None, None] / 9 + rng.normal(size=(1, 17, 2))) for _ in range(3)]
noisy = [c + rng.normal(size=c.shape) * 3 for c in clean]
model = dict(sample_interval=1, num_samples=4, dim=8, encoder_levels=2, decoder_layers=1, heads=2, ffn_ratio=1)
cfg = TrainConfig(kind="2d", layout="coco17", out_dir=sys.argv[1], steps=4, batch_size=4, warmup_steps=1,
                  eval_every=2, checkpoint_every=2, model=model)
import os
train(cfg, ArraySampler(noisy, clean, window=5, seed=int(os.environ["RANK"])), [ArraySampler(noisy, clean, window=5, seed=9).sample(8)], progress=False)
"""


def test_torchrun_two_cpu_processes(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", "29517", str(script), str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["step"] for h in history] == [2, 4]
    assert (Path(tmp_path) / "run" / "best" / "model.safetensors").is_file()


def test_smoothnet_trains_with_the_same_trainer(tmp_path):
    noisy, clean = pairs()
    sampler = ArraySampler(noisy, clean, window=5, seed=0)
    cfg = tiny_config(tmp_path, model=dict(sample_interval=1, num_samples=4, architecture="smoothnet",
                                           smoothnet=dict(hidden=16, res_hidden=8, num_blocks=1, dropout=0.0)))
    train(cfg, sampler, [sampler.sample(8)], progress=False)
    best = tmp_path / "run" / "best"
    assert json.loads((best / "config.json").read_text())["architecture"] == "smoothnet"
    assert refine(noisy[0], weights=best).shape == noisy[0].shape


def test_finetune_from_bvh_files(tmp_path, tiny_weights):
    import tarfile

    from hanet_refine.train.bvh import archive_paths

    try:
        archive = archive_paths()[0]
    except FileNotFoundError:
        pytest.skip("mocap archives not available")
    from hanet_refine.train.finetune import finetune

    with tarfile.open(archive, "r:xz") as tar:
        for member in tar:
            if member.name.endswith("dataset-1_walk_normal_001.bvh"):
                (tmp_path / "walk.bvh").write_bytes(tar.extractfile(member).read())
                break
    out = finetune(tiny_weights("2d", "coco17"), tmp_path / "ft", bvh_files=[tmp_path / "walk.bvh"], steps=3,
                   batch_size=4, progress=False)
    history = json.loads((tmp_path / "ft" / "history.json").read_text())
    assert history[-1]["step"] == 3 and (out / "model.safetensors").is_file()


def test_acceleration_term_penalises_jitter_only():
    t = torch.arange(9.0)[None, :, None, None].expand(1, 9, 2, 1)
    gt = t * 0.5  # constant velocity: zero acceleration
    shifted = gt + 1.0  # off by a constant: no acceleration error
    jitter = gt + torch.tensor([0.0, 1.0] * 4 + [0.0]).view(1, 9, 1, 1)
    sampled = torch.arange(9)
    assert oml_loss(shifted, shifted, gt, sampled, accel_weight=1.0)[1]["accel"] == pytest.approx(0.0)
    parts = oml_loss(jitter, jitter, gt, sampled, accel_weight=1.0)[1]
    assert parts["accel"] == pytest.approx(2.0)  # second differences of 0, 1, 0, 1, ... are -2, +2, ...
    assert "accel" not in oml_loss(jitter, jitter, gt, sampled)[1]


def test_load_pairs(tmp_path):
    from hanet_refine.train.finetune import load_pairs

    noisy, clean = pairs(2, 30)
    for i, (n, c) in enumerate(zip(noisy, clean)):
        np.savez(tmp_path / f"p{i}.npz", noisy=n, clean=c)
    np.savez(tmp_path / "bad.npz", noisy=noisy[0])
    got_noisy, got_clean = load_pairs([tmp_path / "p0.npz", tmp_path / "p1.npz"])
    assert np.array_equal(got_noisy[1], noisy[1]) and np.array_equal(got_clean[0], clean[0])
    with pytest.raises(ValueError, match=r"lacks arrays \['clean'\]"):
        load_pairs([tmp_path / "bad.npz"])


def test_cli_reports_missing_data_in_one_line(tmp_path, capsys):
    from hanet_refine.train.__main__ import main

    code = main(["evaluate", "--kind", "2d", "--layout", "coco17", "--mocap-dir", str(tmp_path / "nowhere"),
                 "--cache-dir", str(tmp_path / "cache")])
    assert code == 2
    assert "no mocap archives" in capsys.readouterr().err

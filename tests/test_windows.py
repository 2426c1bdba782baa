import pytest
import torch

from hanet_refine.windows import merge_weights, sliding_apply, window_starts

L = 9


@pytest.mark.parametrize("t", [1, 2, L - 1, L, L + 1, 1000])
@pytest.mark.parametrize("stride", [1, 4, L])
def test_windows_cover_every_frame(t, stride):
    starts = window_starts(t, L, stride)
    covered = torch.zeros(max(t, L), dtype=torch.bool)
    for s in starts.tolist():
        covered[s : s + L] = True
    assert covered[:t].all()
    assert starts.max() + L <= max(t, L)


@pytest.mark.parametrize("t", [1, 2, L - 1, L, L + 1, 1000])
def test_identity_windows_give_back_the_input(t):
    x = torch.randn(3, t, 4, 2, dtype=torch.float64)
    m = torch.zeros(3, t, 4, dtype=torch.bool)
    out = sliding_apply(lambda w, mm: w, x, m, window=L, stride=4, chunk_size=5)
    assert out.shape == x.shape
    assert torch.allclose(out, x)


def test_padding_frames_are_marked_missing():
    x = torch.zeros(1, 3, 2, 2)
    m = torch.zeros(1, 3, 2, dtype=torch.bool)
    seen = []
    sliding_apply(lambda w, mm: seen.append(mm.clone()) or w, x, m, window=L, stride=4)
    assert seen[0][0, :3].any().item() is False and seen[0][0, 3:].all()


def test_chunk_size_does_not_change_result():
    x = torch.randn(2, 100, 3, 2, dtype=torch.float64)
    m = torch.zeros(2, 100, 3, dtype=torch.bool)
    fn = lambda w, mm: w * torch.linspace(0.5, 1.5, L, dtype=w.dtype).view(1, L, 1, 1)  # noqa: E731
    a = sliding_apply(fn, x, m, window=L, stride=3, chunk_size=1)
    b = sliding_apply(fn, x, m, window=L, stride=3, chunk_size=10_000)
    assert torch.allclose(a, b)


def test_merge_weights_positive_and_peaked():
    w = merge_weights(L)
    assert (w > 0).all() and w.argmax() == L // 2


def test_bad_stride():
    with pytest.raises(ValueError, match="stride must be >= 1"):
        window_starts(10, 4, 0)

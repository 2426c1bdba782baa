import pytest
import torch

from hanet_refine.model import HANet, interpolation_matrix, kinematic_features


def tiny(**kw):
    torch.manual_seed(0)
    args = dict(num_joints=5, coord_dim=2, sample_interval=2, num_samples=4, dim=8, encoder_levels=3,
                decoder_layers=2, heads=2, ffn_ratio=1)
    net = HANet(**{**args, **kw})
    for head in (net.coarse_head, net.final_head):  # zero at init (identity); random as after training
        torch.nn.init.normal_(head.weight, std=0.1)
    return net


def test_untrained_network_is_the_identity():
    torch.manual_seed(0)
    net = HANet(num_joints=5, coord_dim=2, sample_interval=1, num_samples=8, dim=8, heads=2).eval()
    x = torch.randn(2, net.window, 10)
    final, coarse = net(x)
    assert torch.allclose(final, x, atol=1e-6) and torch.equal(coarse, x)


def test_shapes_and_finite():
    net = tiny().eval()
    final, coarse = net(torch.randn(3, net.window, 10))
    assert final.shape == (3, 9, 10) and coarse.shape == (3, 5, 10)
    assert torch.isfinite(final).all() and torch.isfinite(coarse).all()


def test_every_parameter_gets_a_gradient():
    net = tiny().train()
    final, coarse = net(torch.randn(2, net.window, 10), torch.rand(2, net.window, 5) > 0.5)
    (final.square().mean() + coarse.square().mean()).backward()
    unused = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert unused == []


def test_channel_doubling_per_level():
    net = tiny(dim=8, encoder_levels=3)
    assert [lvl.linear1.in_features for lvl in net.levels] == [8, 16, 32]
    assert [lin.out_features for lin in net.widen] == [16, 32]


def test_forward_is_pure():
    net = tiny().eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    attrs = dict(vars(net))
    x = torch.randn(2, net.window, 10)
    a, _ = net(x)
    b, _ = net(x)
    assert torch.equal(a, b)
    assert vars(net).keys() == attrs.keys()
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_missing_mask_is_an_input():
    net = tiny().eval()
    x = torch.randn(1, net.window, 10)
    seen = torch.zeros(1, net.window, 5, dtype=torch.bool)
    hidden = seen.clone()
    hidden[:, 2, 1] = True
    assert not torch.allclose(net(x, seen)[0], net(x, hidden)[0])


def test_kinematic_features_replicate_ends():
    x = torch.tensor([[[0.0], [1.0], [3.0]]])
    prev, nxt, flow, v_back, v_fwd = kinematic_features(x)
    assert prev.flatten().tolist() == [0.0, 0.0, 1.0]
    assert nxt.flatten().tolist() == [1.0, 3.0, 3.0]
    assert v_back.flatten().tolist() == [0.0, 1.0, 2.0]
    assert torch.allclose(flow.flatten(), torch.tensor([1 / 3, 4 / 3, 7 / 3]))


def test_interpolation_matrix_is_linear():
    m = interpolation_matrix(3, 2)  # samples at frames 0, 3, 6
    values = torch.tensor([0.0, 3.0, 9.0])
    assert torch.allclose(m @ values, torch.tensor([0.0, 1, 2, 3, 5, 7, 9]))


def test_wrong_input_shape_names_expected():
    net = tiny()
    with pytest.raises(ValueError, match=r"expects \(batch, 9, 10\)"):
        net(torch.randn(1, 8, 10))


def test_bad_sizes_rejected():
    with pytest.raises(ValueError, match="divisible by heads"):
        HANet(num_joints=3, coord_dim=2, dim=10, heads=4)


@pytest.mark.parametrize("dense", [True, False])
def test_frames_between_samples_reach_the_output_only_with_dense_memory(dense):
    # With N = 4, frame 2 is neither sampled nor a neighbour of a sampled frame: the sampled-only
    # variant cannot see it at all; the paper's dense memory can.
    net = tiny(sample_interval=4, num_samples=2, dense_memory=dense).eval()
    x = torch.randn(1, net.window, 10)
    moved = x.clone()
    moved[:, 2] += 1.0
    with torch.no_grad():
        changed = not torch.allclose(net(x)[0], net(moved)[0])
    assert changed == dense

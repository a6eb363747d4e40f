import pytest
import torch
from torch import nn

from couplet.rnn import TanhRNN, make_rnn


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_tanh_rnn_matches_torch(batch_first, layers, bidirectional, with_h0):
    torch.manual_seed(0)
    ref = nn.RNN(5, 7, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional)
    ours = TanhRNN(5, 7, layers, batch_first=batch_first, bidirectional=bidirectional)
    ours.load_state_dict(ref.state_dict())  # same names and shapes
    x = torch.randn((3, 4, 5) if batch_first else (4, 3, 5), requires_grad=True)
    h0 = torch.randn(layers * (2 if bidirectional else 1), 3, 7) if with_h0 else None
    out_ref, h_ref = ref(x, h0)
    out, h = ours(x, h0)
    torch.testing.assert_close(out, out_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h, h_ref, rtol=1e-5, atol=1e-6)
    g_ref = torch.autograd.grad(out_ref.sum(), x)[0]
    g = torch.autograd.grad(out.sum(), x)[0]
    torch.testing.assert_close(g, g_ref, rtol=1e-5, atol=1e-6)


def test_tanh_rnn_formula_one_step():
    cell = TanhRNN(2, 3)
    x, h = torch.randn(1, 1, 2), torch.randn(1, 1, 3)
    out, _ = cell(x, h)
    expect = torch.tanh(x[0] @ cell.weight_ih_l0.T + cell.bias_ih_l0 + h[0] @ cell.weight_hh_l0.T + cell.bias_hh_l0)
    torch.testing.assert_close(out[0], expect)


def test_make_rnn_rejects_unknown_cell():
    with pytest.raises(ValueError, match="unknown cell"):
        make_rnn("transformer", 4, 4)

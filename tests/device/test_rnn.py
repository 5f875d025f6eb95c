"""nn.LSTM / nn.GRU / nn.RNN on the deeplink device with DEEPLINK_FALLBACK=error: ATen's RNN
composites call the CUDA-only fused cells (_thnn_fused_lstm_cell, _thnn_fused_gru_cell) on every
non-CPU device; deeplink runs them decomposed into ops the backend has (deeplink/decompositions/)."""
import copy

import pytest
import torch

import deeplink


@pytest.fixture(autouse=True)
def no_fallback():
    deeplink.set_fallback_mode("error")
    deeplink.reset_op_stats()
    yield
    deeplink.set_fallback_mode("warn")


def _compare(module, *inputs, packed=False):
    ref = copy.deepcopy(module)
    out_c = ref(*inputs)
    dev = module.to("deeplink")
    moved = [i.to("deeplink") if isinstance(i, (torch.Tensor, torch.nn.utils.rnn.PackedSequence)) else
             tuple(t.to("deeplink") for t in i) for i in inputs]
    out_d = dev(*moved)
    flat = lambda o: [o.data] if isinstance(o, torch.nn.utils.rnn.PackedSequence) else \
        [t for x in o for t in (flat(x) if isinstance(x, tuple) else [x.data if hasattr(x, "batch_sizes") else x])]  # noqa: E731
    outs_c, outs_d = flat(out_c), flat(out_d)
    for a, b in zip(outs_d, outs_c):
        assert a.device.type == "deeplink"
        torch.testing.assert_close(a.cpu(), b, rtol=1e-5, atol=1e-5)
    sum(o.sum() for o in outs_c).backward()
    sum(o.sum() for o in outs_d).backward()
    for (name, p), q in zip(ref.named_parameters(), dev.parameters()):
        torch.testing.assert_close(q.grad.cpu(), p.grad, rtol=1e-4, atol=1e-5, msg=name)
    assert deeplink.fallback_stats() == {}


@pytest.mark.parametrize("cls", [torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN])
@pytest.mark.parametrize("layers,bidirectional,batch_first", [(1, False, False), (2, True, False), (2, False, True)])
def test_rnn_matches_cpu(cls, layers, bidirectional, batch_first):
    torch.manual_seed(0)
    m = cls(10, 16, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    x = torch.randn(3, 5, 10) if batch_first else torch.randn(5, 3, 10)
    _compare(m, x)


def test_lstm_with_initial_state_and_projection():
    torch.manual_seed(1)
    m = torch.nn.LSTM(6, 12, num_layers=2, proj_size=4)
    x = torch.randn(4, 2, 6)
    _compare(m, x, (torch.randn(2, 2, 4), torch.randn(2, 2, 12)))


def test_packed_sequences():
    torch.manual_seed(2)
    m = torch.nn.GRU(4, 8)
    seqs = [torch.randn(5, 4), torch.randn(3, 4), torch.randn(1, 4)]
    _compare(m, torch.nn.utils.rnn.pack_sequence(seqs))


def test_fused_cells_are_decomposed_on_the_device():
    m = torch.nn.LSTM(4, 4).to("deeplink")
    m(torch.randn(2, 1, 4, device="deeplink"))[0].sum().backward()
    stats = deeplink.op_stats()
    assert stats["_thnn_fused_lstm_cell"]["decomposed"] == 2
    assert stats["_thnn_fused_lstm_cell_backward_impl"]["decomposed"] == 2
    assert deeplink.route_of("_thnn_fused_gru_cell") == "decomposed"

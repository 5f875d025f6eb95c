"""deeplink's own decompositions, for ops torch._decomp does not decompose that models reach on a
backend which may lack them: each is written in ops every backend has, and the dispatcher runs it
on the device like a torch._decomp decomposition (route "decomposed"), when the backend has no
kernel of its own.

    rnn.py        _thnn_fused_lstm_cell / _thnn_fused_gru_cell and their backwards (nn.LSTM, nn.GRU):
                  CUDA-only ops ATen's RNN composites call on every non-CPU device
    selection.py  histc (mixture-of-experts routing) and masked_select (data-dependent sizes)
    statistics.py variance (torch._decomp's re-enters aten::var through prims.var) and the
                  weight-norm gradient (nn.utils.weight_norm)

The dispatcher prefers these to torch._decomp's for the same op.
"""
from __future__ import annotations

from .rnn import RNN_CELLS
from .selection import SELECTION
from .statistics import STATISTICS

DECOMPOSITIONS = {**RNN_CELLS, **SELECTION, **STATISTICS}

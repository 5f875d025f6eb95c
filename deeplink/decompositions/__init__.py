"""deeplink's own decompositions, for ops torch._decomp does not decompose and ATen implements only
on CUDA, but which ATen's composites call on every device that is not the CPU (so a deeplink model
reaches them): each is written here in ops every backend has, and the dispatcher runs it on the
device like a torch._decomp decomposition (route "decomposed").

    rnn.py   _thnn_fused_lstm_cell / _thnn_fused_gru_cell and their backwards (nn.LSTM, nn.GRU)
"""
from __future__ import annotations

from .rnn import RNN_CELLS

DECOMPOSITIONS = {**RNN_CELLS}

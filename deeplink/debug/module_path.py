"""Which nn.Module an op runs in, forward and backward, for the debugging kit's reports.

Forward: global module forward hooks keep a per-thread stack of the modules being run; a module's
name is its path in the outermost module that ran it (`transformer.h.0.mlp.act`), found the first
time it is entered. Backward: autograd runs the graph's nodes, not modules; each node carries the
sequence number it got when its forward op ran, so the forward side records which module was
current at each sequence number (`note_forward_op`, called for every op the mode sees) and the
backward side looks the executing node up (`torch._C._current_autograd_node()`).
"""
from __future__ import annotations

import bisect
import threading
import weakref
from dataclasses import dataclass

import torch
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

from .hooks import GlobalHooks

#: Sequence-number intervals kept for backward lookups (a step of a large model records a few
#: thousand); older ones are dropped, their backward ops then read "(unknown module)".
MAX_INTERVALS = 200_000
_NO_SEQUENCE = 2**64 - 1   # AccumulateGrad and other nodes made outside a forward op


@dataclass(frozen=True)
class Where:
    module: str        # path in the outermost module ("" for the outermost itself)
    module_type: str   # class name ("" outside any module)
    phase: str         # "forward" | "backward" | "outside"

    def label(self) -> str:
        if not self.module_type:
            return f"(no module, {self.phase})"
        path = self.module or "(root)"
        return f"{path} ({self.module_type}, {self.phase})"


OUTSIDE = Where("", "", "outside")


class ModulePath(GlobalHooks):
    def __init__(self):
        super().__init__()
        self._names: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._local = threading.local()
        self._starts: list[int] = []
        self._owners: list[tuple[str, str]] = []

    # ---------------------------------------------------------- hooks
    def _register(self) -> list:
        return [register_module_forward_pre_hook(self._pre), register_module_forward_hook(self._post, always_call=True)]

    def _stack(self) -> list:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def _pre(self, module, args):
        stack = self._stack()
        self._index(module, stack[0][0] if stack else None)
        name = self._names.get(module)
        if name is None:  # called by a module it is not a submodule of: named under its caller
            name = f"{stack[-1][1]}.<{type(module).__name__}>".lstrip(".")
        stack.append((module, name))

    def _post(self, module, args, output):
        stack = self._stack()
        if stack and stack[-1][0] is module:
            stack.pop()

    def _index(self, module, root) -> None:
        if module in self._names:
            return
        owner = module if root is None else root
        for name, sub in owner.named_modules():
            self._names.setdefault(sub, name)

    # ---------------------------------------------------------- queries
    def current(self) -> Where:
        if torch._C._current_graph_task_id() != -1:
            return self._backward()
        stack = self._stack()
        if not stack:
            return OUTSIDE
        module, name = stack[-1]
        return Where(name, type(module).__name__, "forward")

    def note_forward_op(self) -> None:
        """Called for every op in forward: the autograd node the op made (if any) has sequence
        number next-1, so `next` is remembered as the start of the current module's interval."""
        if torch._C._current_graph_task_id() != -1 or not torch.is_grad_enabled():
            return
        stack = self._stack()
        owner = (stack[-1][1], type(stack[-1][0]).__name__) if stack else ("", "")
        nxt = torch._C._autograd._get_sequence_nr()
        if self._starts and nxt <= self._starts[-1]:
            return      # an op before this one in the same interval made the node: it owns it
        if self._owners and self._owners[-1] == owner:
            return
        self._starts.append(nxt)
        self._owners.append(owner)
        if len(self._starts) > MAX_INTERVALS:
            del self._starts[:MAX_INTERVALS // 2], self._owners[:MAX_INTERVALS // 2]

    def _backward(self) -> Where:
        node = torch._C._current_autograd_node()
        seq = node._sequence_nr() if node is not None else _NO_SEQUENCE
        if seq == _NO_SEQUENCE or not self._starts:
            return Where("", "", "backward")
        i = bisect.bisect_right(self._starts, seq + 1) - 1
        if i < 0:
            return Where("", "", "backward")
        name, kind = self._owners[i]
        return Where(name, kind, "backward")

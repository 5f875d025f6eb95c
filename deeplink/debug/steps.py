"""Training-step position for the debugging kit's reports: how many optimizer steps have run, and
whether an op runs inside one (global optimizer hooks, so any torch.optim optimizer counts)."""
from __future__ import annotations

from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from .hooks import GlobalHooks


class StepCounter(GlobalHooks):
    def __init__(self):
        super().__init__()
        self.steps = 0
        self.in_step = False

    def _pre(self, optimizer, args, kwargs):
        self.in_step = True

    def _post(self, optimizer, args, kwargs):
        self.in_step = False
        self.steps += 1

    def _register(self) -> list:
        return [register_optimizer_step_pre_hook(self._pre), register_optimizer_step_post_hook(self._post)]

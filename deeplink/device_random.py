"""Random number state of the deeplink device (torch.cuda.random's surface). Each device has a
default generator (csrc/shim/generator.cpp); seeding it seeds the ATen generator kernels draw from."""
from __future__ import annotations

import torch

from . import _C
from .device_index import index_of


def _generator(device=None) -> torch.Generator:
    return _C._default_generator(index_of(device))


def _all_generators() -> tuple:
    return tuple(_generator(i) for i in range(_C._device_count()))


def manual_seed(seed: int) -> None:
    """Seed the current device's generator."""
    _generator().manual_seed(int(seed))


def manual_seed_all(seed: int) -> None:
    for g in _all_generators():
        g.manual_seed(int(seed))


def seed() -> None:
    """Seed the current device's generator with a non-deterministic number."""
    _generator().seed()


def seed_all() -> None:
    """One fresh non-deterministic seed for every device."""
    s = _generator(0).seed()
    for g in _all_generators()[1:]:
        g.manual_seed(s)


def initial_seed() -> int:
    return _generator().initial_seed()


def get_rng_state(device="deeplink") -> torch.Tensor:
    return _generator(device).get_state()


def set_rng_state(new_state: torch.Tensor, device="deeplink") -> None:
    _generator(device).set_state(new_state)


def get_rng_state_all() -> list:
    return [g.get_state() for g in _all_generators()]


def set_rng_state_all(new_states) -> None:
    for g, s in zip(_all_generators(), new_states):
        g.set_state(s)

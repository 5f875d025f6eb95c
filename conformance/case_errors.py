"""Exceptions programs raise to say something other than "the backend raised"."""


class SkipCase(Exception):
    """The case cannot be checked meaningfully; the message is the reason shown in the report."""


class StructureMismatch(Exception):
    """The backend's result has another structure than CUDA's (e.g. fewer differentiable outputs)."""

"""In-tree vendor backends, one folder each, every one the same shape:

    backends/<vendor>/__init__.py   the Backend class (probe, runtime, kernels), registered through
                                    the `deeplink.backends` entry-point group like any plugin
    backends/<vendor>/runtime.py    the vendor runtime (memory, copies, streams, events)
    backends/<vendor>/kernels*.py   the operator kernels

Learn backends/cpu first: it is the smallest real one.
"""

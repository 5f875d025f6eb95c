"""Kernels made from the op table (table.py, as data) and the runner that launches its entries."""

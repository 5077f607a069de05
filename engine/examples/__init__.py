"""Example plugins: the Python side of the example flows in ``flows/``."""

"""Actions used by the example flows in ``flows/`` (registered when this package is imported)."""

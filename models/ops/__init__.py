"""Image operators: pure functions on numpy arrays (shapes, dtypes and ranges in docstrings)."""

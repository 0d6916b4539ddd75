"""Reports built from run metrics: comparison tables, JSON and plots (no TensorFlow)."""

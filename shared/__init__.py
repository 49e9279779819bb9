"""Code used by both the web tier and the workers (no TensorFlow here)."""

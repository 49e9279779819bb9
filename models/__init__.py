"""The detector: preprocessing shared by training, evaluation and the worker, plus training code."""

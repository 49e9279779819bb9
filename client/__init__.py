"""A small client of the service's HTTP API (used by `deepfake-detect submit`); no TensorFlow here."""

"""connttra-neuro: train discrete-weight networks with CoNNTrA, deploy them on
neuromorphic targets, and verify the deployment classifies exactly as trained."""

from .inference import predict
from .modelfile import ModelFileError, load, save, storage_report
from .network import (
    BINARY,
    TERNARY,
    HiddenLayer,
    NetworkError,
    OutputLayer,
    TernaryNetwork,
    ThermometerEncoder,
    random_network,
)

__version__ = "0.1.0"

__all__ = [
    "TernaryNetwork",
    "HiddenLayer",
    "OutputLayer",
    "ThermometerEncoder",
    "NetworkError",
    "TERNARY",
    "BINARY",
    "random_network",
    "save",
    "load",
    "predict",
    "storage_report",
    "ModelFileError",
]

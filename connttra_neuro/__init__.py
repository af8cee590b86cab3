"""connttra-neuro: train discrete-weight networks with CoNNTrA, deploy them on
neuromorphic targets, and verify the deployment classifies exactly as trained."""

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:  # what editors and type checkers see; at run time __getattr__ below loads them on first use
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

# Public name -> the module defining it. They load on first use (PEP 562), not when the package is
# imported: the command line imports this package before main() runs, and numpy took a fifth of a second
# of that, in which a Ctrl-C ended the command with a traceback (or, inside numpy, an ImportError saying
# numpy was imported from its source tree) instead of main()'s "interrupted" and exit status 130.
_EXPORTS = {
    "predict": "inference",
    **dict.fromkeys(("ModelFileError", "load", "save", "storage_report"), "modelfile"),
    **dict.fromkeys(("BINARY", "TERNARY", "HiddenLayer", "NetworkError", "OutputLayer", "TernaryNetwork",
                     "ThermometerEncoder", "random_network"), "network"),
}
# the modules the package imported eagerly before, still reachable as attributes (connttra_neuro.network)
_SUBMODULES = frozenset(_EXPORTS.values())

# literal, for linters and type checkers (they read __all__, not _EXPORTS); a test keeps the two alike
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


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value  # looked up once
    return value


def __dir__():
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})

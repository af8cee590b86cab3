"""CoNNTrA training: coordinate descent over discrete weights, plus backprop baselines.

Public API: :class:`CoNNTrA`, :func:`layerwise_init` (a start for networks of several hidden layers),
:func:`compare_methods`, :func:`format_table`, :func:`plot_curves` (the
comparison's plot) and :func:`plot_history` (one run's curves).
"""

from .estimator import CoNNTrA, ConvergenceWarning
from .layerwise import layerwise_init

__all__ = ["CoNNTrA", "ConvergenceWarning", "layerwise_init", "compare_methods", "format_table", "plot_curves",
           "plot_history"]


def __getattr__(name):  # compare pulls in scikit-learn and multiprocessing, plots matplotlib: load on first use
    if name in ("compare_methods", "format_table", "plot_curves"):
        from . import compare

        return getattr(compare, name)
    if name == "plot_history":
        from . import plots

        return plots.plot_history
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")  # Python's own wording, not the bare name

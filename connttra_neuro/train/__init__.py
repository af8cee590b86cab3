"""CoNNTrA training: coordinate descent over discrete weights, plus backprop baselines.

Public API: :class:`CoNNTrA`, :func:`compare_methods`, :func:`format_table`.
"""

from .estimator import CoNNTrA, ConvergenceWarning

__all__ = ["CoNNTrA", "ConvergenceWarning", "compare_methods", "format_table"]


def __getattr__(name):  # compare pulls in scikit-learn and multiprocessing: load on first use
    if name in ("compare_methods", "format_table"):
        from . import compare

        return getattr(compare, name)
    raise AttributeError(name)

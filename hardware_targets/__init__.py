"""Hardware targets for connttra-neuro networks, behind one small interface.

Look targets up by name: ``get_target("reference")``. See :mod:`hardware_targets.base`.
"""

from .base import RunResult, Target, TargetLimitError, check_spikes, network_counts
from .registry import UnknownTargetError, get_target, register_target, target_class, target_names

__all__ = [
    "Target",
    "RunResult",
    "TargetLimitError",
    "UnknownTargetError",
    "check_spikes",
    "network_counts",
    "get_target",
    "register_target",
    "target_class",
    "target_names",
]

"""Targets by name. Modules are imported only when their target is asked for,
so `import hardware_targets` never pulls in Lava or Brian2."""

from __future__ import annotations

import importlib

from .base import Target

__all__ = ["get_target", "target_names", "UnknownTargetError"]

# name -> (module, class). Add a target here and nowhere else.
_TARGETS: dict[str, tuple[str, str]] = {
    "reference": ("hardware_targets.reference", "ReferenceTarget"),
    "loihi2": ("hardware_targets.loihi2", "Loihi2Target"),
    "brian2": ("hardware_targets.brian2_edge", "Brian2Target"),
}


class UnknownTargetError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0]


def target_names() -> list[str]:
    """Names of every registered target."""
    return list(_TARGETS)


def get_target(name: str, **options) -> Target:
    """A new target instance by name; ``options`` go to its constructor."""
    try:
        module, cls = _TARGETS[name]
    except KeyError:
        raise UnknownTargetError(f"unknown target {name!r}; known targets: {', '.join(_TARGETS)}") from None
    return getattr(importlib.import_module(module), cls)(**options)

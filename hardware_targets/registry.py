"""Targets by name. Modules are imported only when their target is asked for,
so `import hardware_targets` never pulls in Lava or Brian2.

Your own target (a subclass of :class:`hardware_targets.Target`) is reached two ways: by
``register_target("accel", Accel)`` in Python, or, where no code of yours runs first (the
command line), by the spec ``"module:Class"`` (``--targets reference,my_accel:Accel``), imported
from the current folder or an installed package."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import traceback

from .base import Target

__all__ = ["get_target", "register_target", "target_class", "target_names", "UnknownTargetError"]

# name -> (module, class), or a registered class. The built-in targets are listed here and nowhere else.
_TARGETS: dict[str, tuple[str, str] | type[Target]] = {
    "reference": ("hardware_targets.reference", "ReferenceTarget"),
    "loihi2": ("hardware_targets.loihi2", "Loihi2Target"),
    "brian2": ("hardware_targets.brian2_edge", "Brian2Target"),
}
_HOW = "register it with hardware_targets.register_target(name, cls) or give it as module:Class"


class UnknownTargetError(KeyError):
    """A target name (or ``module:Class`` spec) that names no target; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0]


def target_names() -> list[str]:
    """Names of every registered target (built-in ones first)."""
    return list(_TARGETS)


def register_target(name: str, cls: type[Target], *, replace: bool = False) -> None:
    """Make ``cls`` (a :class:`Target` subclass) known as ``name`` to :func:`get_target`, ``verify``
    and the report. A name in use is refused unless ``replace``: a typo must not shadow loihi2."""
    if not isinstance(name, str) or not name.strip() or any(c in name for c in ",: \t\n"):
        raise ValueError(f"a target name is a non-empty word without ',' ':' or spaces (the command line "
                         f"separates targets by ',', module:Class by ':'), got {name!r}")
    if not (isinstance(cls, type) and issubclass(cls, Target)):
        raise TypeError(f"register_target({name!r}, ...) needs a subclass of hardware_targets.Target, got {cls!r}")
    if name in _TARGETS and not replace:
        raise ValueError(f"target {name!r} is registered already; pass replace=True to replace it")
    _TARGETS[name] = cls


def target_class(name: str) -> type[Target]:
    """The class behind a registered name or a ``module:Class`` spec (imported now, so a wrong
    spec fails before any work); an unknown name is :class:`UnknownTargetError`."""
    entry = _TARGETS.get(name)
    if isinstance(entry, type):
        return entry
    if entry is not None:
        return getattr(importlib.import_module(entry[0]), entry[1])
    if isinstance(name, str) and ":" in name:
        return _from_spec(name)
    raise UnknownTargetError(f"unknown target {name!r}; known targets: {', '.join(_TARGETS)} (for your own "
                             f"target: {_HOW}; see docs/targets/writing.md)")


def get_target(name: str, **options) -> Target:
    """A new target instance by name (or ``module:Class``); ``options`` go to its constructor. An
    option the constructor does not take is named with the ones it does."""
    cls = target_class(name)
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # no signature to read: let the constructor speak
        params = {}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    unknown = [k for k in options if params and not takes_any and k not in params]
    if unknown:
        takes = [k for k, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
        raise TypeError(f"target {name!r} has no option {', '.join(map(repr, unknown))}; it takes "
                        f"{', '.join(takes) or 'no options'}")
    return cls(**options)


def _from_spec(spec: str) -> type[Target]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UnknownTargetError(f"target {spec!r}: give module:Class, e.g. my_accel:Accel")
    # the current folder, as `python -m` would have it (the console script's own path does not hold it);
    # it stays on the path: a target may import a module beside it later, when it compiles
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        if err.name and err.name != module_name and not module_name.startswith(err.name + "."):
            raise UnknownTargetError(f"target {spec!r}: {module_name} imports {err.name}, which is not installed "
                                     f"({err})") from None
        raise UnknownTargetError(f"target {spec!r}: cannot import {module_name} ({err}); run from the folder that "
                                 f"holds {module_name.replace('.', '/')}.py, or install it") from None
    except Exception as err:  # the module's own code failed (a syntax error, no device): where, in one line
        raise UnknownTargetError(f"target {spec!r}: importing {module_name} failed: {type(err).__name__}: "
                                 f"{err.msg if isinstance(err, SyntaxError) else err} "
                                 f"({_where(err)}; python -c 'import {module_name}' shows the traceback)") from None
    cls = getattr(module, attr, None)
    if cls is None:
        raise UnknownTargetError(f"target {spec!r}: {module_name} has no {attr}")
    if not (isinstance(cls, type) and issubclass(cls, Target)):
        raise UnknownTargetError(f"target {spec!r}: {attr} is not a subclass of hardware_targets.Target")
    return cls


def _where(err: BaseException) -> str:
    """``file:line`` of the innermost frame of ``err`` (a syntax error's own location)."""
    if isinstance(err, SyntaxError) and err.filename:
        return f"{err.filename}:{err.lineno}"
    frames = traceback.extract_tb(err.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "no location"

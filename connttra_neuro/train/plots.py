"""A training run's curves as a picture: what ``train --plot`` writes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .._atomic import atomic_write

__all__ = ["plot_curves", "plot_format", "plot_history", "short_name"]

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".jpg": "jpg", ".jpeg": "jpg"}


def plot_format(path) -> str:
    """The picture format ``path``'s suffix asks for (no suffix: PNG); an unknown suffix is an error
    (before training, so that a run is not lost to a typo)."""
    suffix = Path(path).suffix.lower()
    if not suffix:
        return "png"
    if suffix not in FORMATS:
        raise ValueError(f"cannot draw a plot as {Path(path).name!r}: give a name ending in "
                         f"{', '.join(FORMATS)} (or none: PNG)")
    return FORMATS[suffix]


def plot_history(history: list[dict], path, title: str | None = None, best: int | None = None, *,
                 jittered: bool = True) -> Path:
    """Picture of a CoNNTrA run (``history_``, one record per sweep, sweep 0 the start) at ``path``
    (written atomically; PNG, SVG, PDF or JPEG by its suffix, ``plot_format``): training and
    validation error per sweep on the left, with the sweep ``network_`` holds (``best``) marked;
    the loss and the parameters each sweep changed on the right, over the same sweeps. The loss
    is the one each sweep minimises: with drive jitter (``jittered``, the default training) it
    carries that sweep's own noise draw, so it need not fall monotonically."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    if not history:
        raise ValueError("plot_history needs at least one history record")
    kind = plot_format(path)
    fig = _history_figure(plt, history, title, best, jittered)
    try:  # the figure is closed however writing ends
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format=kind, dpi=110))
    finally:
        plt.close(fig)


def _history_figure(plt, history: list[dict], title: str | None, best: int | None, jittered: bool):
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4), sharex=True, layout="constrained")
    # the start (sweep 0, chance-level error, a loss many times the trained one) would squash the
    # curves that matter into a corner: both panels leave it out, so their sweeps line up, and the
    # x labels give its values
    start = history[0] if len(history) > 2 and history[0]["sweep"] == 0 else None
    shown = history[1:] if start is not None else history
    sweeps = [r["sweep"] for r in shown]
    left.plot(sweeps, [100 * r["train_error"] for r in shown], marker=".", label="training error")
    val = [(r["sweep"], 100 * r["val_error"]) for r in shown if r.get("val_error") is not None]
    if val:
        left.plot(*zip(*val, strict=True), marker=".", label="validation error")
    if best is not None:
        left.axvline(best, color="grey", linestyle="--", linewidth=1, label=f"kept network (sweep {best})")
    left_note = right_note = ""
    if start is not None:
        errors = [f"{100 * start['train_error']:.0f}% training"]
        if start.get("val_error") is not None:
            errors.append(f"{100 * start['val_error']:.0f}% validation")
        left_note = f"\n(sweep 0, the start, left out: {', '.join(errors)} error)"
        right_note = f"\n(sweep 0, the start, left out: loss {start['loss']:.3g})"
    left.set_xlabel("sweep" + left_note)
    left.set_ylabel("error (%)")
    left.set_title("Errors of the network after each sweep", fontsize=10)
    left.grid(True, alpha=0.3)
    left.legend(fontsize=8)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))

    losses = [r["loss"] for r in shown]
    right.plot(sweeps, losses, color="C2", marker=".", label="training loss")
    right.set_xlabel("sweep" + right_note)
    right.set_ylabel("training loss per sample" + (",\nwith this sweep's drive jitter" if jittered else ""),
                     color="C2")
    # a log scale only where the loss spans a decade (below one, a log axis shows one tick label or
    # none), and never for a loss of 0 (the hinge reaches it; a log axis drops it)
    if min(losses) > 0 and max(losses) >= 10 * min(losses):
        right.set_yscale("log")
        right.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        right.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        right.yaxis.set_minor_formatter(NullFormatter())
    right.grid(True, alpha=0.3)
    changed = right.twinx()
    moved = [(r["sweep"], r["changed"]) for r in shown if r.get("changed") is not None]
    if moved:
        changed.bar(*zip(*moved, strict=True), color="C3", alpha=0.25, width=0.8)
    changed.set_ylabel("parameters changed in the sweep", color="C3")
    # the twin axes draw over their host: lift the loss axes above the bars (its background made
    # see-through, or it would hide them)
    right.set_zorder(changed.get_zorder() + 1)
    right.patch.set_visible(False)
    right.set_title("Loss each sweep minimised, and the parameters it changed", fontsize=10)
    seconds = history[-1].get("seconds")
    n = sum(1 for r in history if r["sweep"] > 0)
    done = f"{n} sweep{'s' if n != 1 else ''}" + (f" in {seconds:.1f} s of training time" if seconds is not None
                                                  else "")
    fig.suptitle(f"{title or 'CoNNTrA training'}: {done}")
    return fig


def short_name(name: str, width: int = 40) -> str:
    """A dataset name short enough for a title or legend: a path's last component, or its last two
    when they fit in ``width`` (``.../v2/images_16x16_grey``: the folder alone is often ``images`` or
    ``train``); a built-in name as it is. Cut in the middle beyond ``width``."""
    parts = [p for p in str(name).replace("\\", "/").split("/") if p]
    if len(parts) > 1:
        name = "/".join(parts[-2:]) if len("/".join(parts[-2:])) <= width else parts[-1]
    return name if len(name) <= width else name[: width // 2 - 1] + "..." + name[-(width // 2 - 2):]


def _short_title(title: str, width: int = 70) -> str:
    """``title`` with each path in it shortened (``short_name``), wrapped to lines of ``width``: the
    CLI's title starts with ``--data`` as given, which can be a path wider than the figure."""
    import re
    import textwrap

    title = re.sub(r"[^\s:]*[/\\][^\s:]*", lambda m: short_name(m.group(0)), title)
    return "\n".join(textwrap.wrap(title, width)) or title


def _y_top(finals: list[float], values: list[float]) -> float:
    """The top of the error axis, in %: 2.5 times the largest final error (and at least 5 points over
    it), so the band where the methods end is not squashed by the early, near-chance points of a
    method that starts from random weights; not much higher than the curves go, yet 2 points over the
    highest end for its label (and a range when every error is 0)."""
    finals = [f for f in finals if math.isfinite(f)] or [0.0]  # a NaN error (no validation sample) draws nothing
    values = [v for v in values if math.isfinite(v)] or [0.0]
    highest = max(finals)
    top = max(2.5 * highest, highest + 5.0)
    top = min(top, max(1.1 * max(values), highest + 2.0))
    return min(top, max(100.0, highest + 2.0))


def plot_curves(results: list[dict], path, title: str | None = None) -> Path:
    """PNG of validation error against training time at ``path`` (written atomically), one line per
    method (and dataset) of ``compare_methods``' results, each labelled with its final error at its
    end. The error axis is cut above the band the methods end in (``_y_top``); the axis label says
    how many early points lie above it."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    fig = _curves_figure(plt, results, title)
    try:  # the figure is closed however writing ends
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    finally:
        plt.close(fig)


def _curves_figure(plt, results: list[dict], title: str | None):
    from matplotlib.transforms import offset_copy

    curves = []
    for r in results:
        pts = [(h["seconds"], 100 * h["val_error"]) for h in r["history"] if h.get("val_error") is not None]
        if pts:
            curves.append((r, *map(np.asarray, zip(*pts, strict=True))))
    datasets = list(dict.fromkeys(str(r.get("dataset", "")) for r in results))
    # one dataset: it is in the title, and repeating it before every method only widens the legend
    named = len(datasets) > 1
    fig, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
    lines = []
    for r, t, e in curves:
        label = r.get("label", r["method"])
        if named:
            label = f"{short_name(r.get('dataset', ''))}: {label}"
        ours = str(r["method"]).startswith("connttra")
        # CoNNTrA on top: the baselines log many more, denser points that would hide it
        lines += ax.plot(t, e, marker=".", markersize=7 if ours else 4, linewidth=2 if ours else 1.3,
                         zorder=4 if ours else 2, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("training time (s, log scale)")
    ylabel = "validation error (%)"
    if curves:
        finals = [float(e[-1]) for _, _, e in curves]
        top = _y_top(finals, [float(v) for _, _, e in curves for v in e])
        ax.set_ylim(0, top)
        above = sum(int(np.sum(e > top)) for _, _, e in curves)
        if above:
            ylabel += f"\n{above} early point{'s' if above > 1 else ''} above {top:.0f}% not shown"
        # room right of the last point for its label, on the log axis
        lo, hi = min(float(t.min()) for _, t, _ in curves), max(float(t.max()) for _, t, _ in curves)
        if lo > 0 and hi > lo:
            ax.set_xlim(lo / 1.3, hi * (hi / lo) ** 0.12 * 1.3)
        # each method's final error at its end, in its colour; _spread_labels moves apart the ones that overlap
        labels = [ax.annotate(f"{float(e[-1]):.1f}%", xy=(float(t[-1]), float(e[-1])),
                              xytext=(float(t[-1]), float(e[-1])),
                              textcoords=offset_copy(ax.transData, fig=fig, x=6, units="points"), va="center",
                              fontsize=8, color=line.get_color(), fontweight="bold", zorder=5, annotation_clip=False)
                  for (_, t, e), line in zip(curves, lines, strict=True)
                  if math.isfinite(float(e[-1])) and float(t[-1]) > 0]
    ax.set_ylabel(ylabel)
    ax.set_title(_short_title(title or "validation error against training time"), fontsize=11)
    ax.grid(True, alpha=0.3)
    if curves:  # outside, right of the axes: inside it covers the curves wherever it goes
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    drawn = {id(r) for r, _, _ in curves}
    missing = [r.get("label", r["method"]) for r in results if id(r) not in drawn]
    if missing:  # a method that logged no validation error would otherwise just be absent
        ax.text(1.01, 0.0, "no validation curve:\n" + "\n".join(missing), transform=ax.transAxes, fontsize=8,
                va="bottom", ha="left")
    if curves:
        _spread_labels(fig, ax, labels)
    return fig


#: the least space between two end labels, in points
LABEL_GAP_PT = 1.5


def _spread_labels(fig, ax, labels: list) -> None:
    """Move end labels apart vertically until no two overlap, measured as drawn: a label's width depends
    on its text and the axes' on the legend, so a guess in data units (the old rule: ends within a tenth
    of the time axis) let "10.0%" run into "10.1%" a little further right. From the lowest up, a label
    goes above every label below it that it shares columns with; labels pushed past the top of the axes
    come back down together, so none leaves the plot (there is room for them below)."""
    if not labels:
        return
    fig.canvas.draw()  # the layout (legend, title) decides the axes' size, and so where the labels fall
    renderer = fig.canvas.get_renderer()
    gap = LABEL_GAP_PT * fig.dpi / 72
    boxes = [label.get_window_extent(renderer) for label in labels]
    centre = [(b.y0 + b.y1) / 2 for b in boxes]
    half = [b.height / 2 for b in boxes]

    def share_columns(i: int, j: int) -> bool:
        return boxes[i].x0 < boxes[j].x1 + gap and boxes[j].x0 < boxes[i].x1 + gap

    order = sorted(range(len(labels)), key=lambda i: centre[i])
    for k, i in enumerate(order):
        for j in sorted(order[:k], key=lambda j: centre[j]):  # upwards past each label in the way
            if share_columns(i, j):
                centre[i] = max(centre[i], centre[j] + half[j] + half[i] + gap)
    top = ax.get_window_extent(renderer).y1
    for k, i in enumerate(reversed(order)):  # from the highest down: back under the top of the axes
        ceiling = top - half[i] - gap
        for j in order[len(order) - k:]:  # the labels above it, already in place
            if share_columns(i, j):
                ceiling = min(ceiling, centre[j] - half[j] - half[i] - gap)
        centre[i] = min(centre[i], ceiling)
    to_data = ax.transData.inverted()
    for label, box, c in zip(labels, boxes, centre, strict=True):
        x, _ = label.xyann
        label.xyann = (x, float(to_data.transform(((box.x0 + box.x1) / 2, c))[1]))

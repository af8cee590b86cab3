"""Write a :class:`~connttra_neuro.verify.parity.ParityReport` as JSON, Markdown and HTML with plots.

Files written into ``out_dir``::

    parity.json                 the stable schema (ParityReport.to_dict)
    parity.md / parity.html     the same facts for people, plots embedded
    plots/confusion.png         confusion matrix of the trained model and each target
    plots/spikes_per_layer.png  mean spikes per inference, layer by layer (equal means can hide differing spikes)
    plots/agreement.png         per target, samples with equal scores / the same class / another class; how
                                many samples differ per layer (counts, coloured on the scale of the samples run)
    plots/operations.png        synaptic operations vs a float MLP, Loihi energy estimate

The Markdown and HTML are rendered from one list of blocks so they never drift apart.
"""

from __future__ import annotations

import html
import json
import os
import textwrap
from pathlib import Path

import numpy as np

from .._atomic import atomic_write, write_text
from .parity import ParityReport, _joules, _pct, first_differing_shown, output_labels


def _save_png(fig, path) -> None:
    """Through a temporary file, as every other output: a plot written in place and cut off by Ctrl-C or
    SIGTERM would sit in the report folder half-drawn."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))

__all__ = ["write_report", "write_json", "render_markdown", "render_html"]

_COLORS = {"software": "#4c4c4c", "exact": "#2a9d8f", "mismatch": "#e76f51", "failed": "#9e9e9e"}
_PALETTE = ["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#8ab17d", "#6d597a"]


def write_json(report: ParityReport, path: str | os.PathLike) -> Path:
    """Write the report's stable JSON schema to ``path``."""
    path = Path(path)
    write_text(path, json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n")
    return path


# What write_report puts into its folder (name -> kind, as cli.check_folder_outputs takes; for its
# text files, the bytes they start with): a command checks before running that it replaces only these.
REPORT_FILES = {"parity.json": "parity-json", "parity.md": b"# Parity report", "parity.html": b"<!doctype html>",
                **{f"plots/{name}": "plot" for name in ("confusion.png", "spikes_per_layer.png", "agreement.png",
                                                         "operations.png")}}


def write_report(
    report: ParityReport, out_dir: str | os.PathLike, *, title: str = "Parity report", plots: bool = True
) -> dict:
    """Write JSON, Markdown, HTML and PNG plots into ``out_dir``; return ``{kind: path}``."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():  # mkdir's FileExistsError would not say what to do
        raise FileExistsError(f"{out} exists and is a file, not a folder for the report: give a folder path")
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": write_json(report, out / "parity.json")}
    figures = _plots(report, out / "plots") if plots else {}
    paths.update({f"plot_{k}": v for k, v in figures.items()})
    blocks = _blocks(report, title, {k: v.relative_to(out).as_posix() for k, v in figures.items()})
    paths["markdown"] = out / "parity.md"
    write_text(paths["markdown"], render_markdown(blocks))
    paths["html"] = out / "parity.html"
    write_text(paths["html"], render_html(blocks, title))
    return paths


# -- content ------------------------------------------------------------------------
def _blocks(report: ParityReport, title: str, figures: dict) -> list[tuple]:
    net = report.network
    b: list[tuple] = [("h1", title)]
    verdict = (
        "**All targets match the trained model exactly** (every spike, score and class)."
        if report.all_exact
        else "**At least one target departs from the trained model** (details below)."
    )
    b.append(("p", verdict))
    b.append(
        (
            "p",
            f"Network {'-'.join(map(str, net['layer_sizes']))} (input spikes, hidden neurons, classes), "
            f"weights in {net['discrete_set']}, {100 * net['connection_sparsity']:.1f}% zero; "
            f"{report.n_samples} samples"
            + (f" of `{report.dataset}`" if report.dataset else "")
            + f"; created {report.created}.",
        )
    )
    b.append(("h2", "Targets"))
    head = [
        "target",
        "status",
        "error",
        "trained model",
        "agreeing samples",
        "scores equal",
        "first differing layer",
        "run steps",
        "run time",
    ]
    rows = []
    for t in report.targets:
        rows.append(
            [
                t.target,
                t.status,
                _pct(t.error),
                _pct(t.software_error),
                f"{t.agreeing}/{t.n_samples}" if t.status != "failed" else "-",
                "-"
                if t.scores_equal is None
                else ("yes" if t.scores_equal else f"no ({t.score_samples_differing} sample(s))"),
                first_differing_shown(t) or "-",
                "-" if t.run_steps is None else str(t.run_steps),
                "-" if t.run_seconds is None else f"{t.run_seconds:.2f} s",
            ]
        )
    b.append(("table", head, rows))
    for t in report.targets:
        if t.exact:
            continue
        b.append(("h3", f"{t.target}: {t.status}"))
        b.append(("p", t.diagnosis))
        if t.disagreeing_samples:
            shown = ", ".join(map(str, t.disagreeing_samples[:30]))
            more = f" ... (+{len(t.disagreeing_samples) - 30})" if len(t.disagreeing_samples) > 30 else ""
            b.append(("p", f"Samples classified differently ({t.disagreeing}): {shown}{more}"))
        lrows = [
            [
                lp.layer,
                "not recorded" if lp.equal is None else ("equal" if lp.equal else "DIFFERS"),
                # a layer not recorded was not compared: "0 neurons differ" would say it matched
                "-" if lp.equal is None else str(lp.neurons_differing),
                "-" if lp.equal is None else str(lp.samples_differing),
                ", ".join(map(str, lp.neurons)) or "-",
                _listed(lp.samples, lp.samples_differing) or "-",
            ]
            for lp in t.layers
        ]
        if lrows:
            b.append(
                (
                    "table",
                    ["layer", "spikes / scores", "neurons (classes) differing", "samples differing", "which",
                     "which samples"],
                    lrows,
                )
            )
        for lp in t.layers:
            if lp.cause:
                b.append(("li", f"{lp.layer}, the whole layer: {lp.cause}"))
            for d in lp.diagnosis[:10]:
                who = (f"neuron {d['neuron']}" if "neuron" in d
                       else f"class {_class_name(report, d['class'])}" if "class" in d
                       else "every neuron" if lp.layer.startswith("hidden") else "every class")
                total = d["fires_extra"] + d["misses"] if "neuron" in d else d.get("samples_differing", 0)
                where = f"; differs on samples {_listed(d['samples'], total)}" if d.get("samples") else ""
                b.append(("li", f"{lp.layer}, {who}: {d['explanation']}{where}"))
            unlisted = lp.neurons_differing - min(len(lp.diagnosis), 10)
            per_unit = lp.diagnosis and ("neuron" in lp.diagnosis[0] or "class" in lp.diagnosis[0])
            if per_unit and unlisted > 0:  # (not after one entry for the whole layer: a shift, missing results)
                what = "neuron(s)" if lp.layer.startswith("hidden") else "class(es)"
                b.append(("li", f"{lp.layer}: +{unlisted} more {what} differ, not listed here (parity.json "
                                f"diagnoses the first {len(lp.diagnosis)})"))
    if figures.get("agreement"):
        b.append(("img", figures["agreement"], "Agreement with the trained model"))
    if figures.get("confusion"):
        b.append(("h2", "Confusion matrices"))
        b.append(("img", figures["confusion"], "Confusion matrices"))

    b.append(("h2", "Activity and operations per inference"))
    b.append(
        (
            "p",
            "Names follow NeuroBench: *effective ACs* are synaptic accumulates (a binary spike over a non-zero "
            "weight), *effective MACs* are multiply-accumulates (none: every layer takes binary spikes), *dense* "
            "is what a dense implementation computes, equal to the multiply-accumulates of a float MLP of the "
            "same architecture. Activation sparsity is the fraction of hidden-neuron outputs without a spike.",
        )
    )
    ops_rows = [
        _ops_row(
            "trained model (reference forward)",
            report.software["operations"],
            report.software.get("energy"),
            report.software["latency_steps"],
        )
    ]
    for t in report.targets:
        if t.operations:
            ops_rows.append(_ops_row(t.target, t.operations, t.energy, t.latency_steps))
    b.append(
        (
            "table",
            [
                "run",
                "spikes per layer (in, hidden...)",
                "effective ACs",
                "effective MACs",
                "dense (float MLP MACs)",
                "neuron updates",
                "activation sparsity",
                "Loihi energy",
                "latency (steps)",
            ],
            ops_rows,
        )
    )
    energy = report.software.get("energy")
    if energy:
        b.append(
            (
                "p",
                f"Energy model: E = ACs x {energy['joules_per_synop'] * 1e12:.3g} pJ + neuron updates x "
                f"{energy['joules_per_neuron_update'] * 1e12:.3g} pJ ({energy['source']}). An estimate for "
                "Loihi silicon from published per-operation figures, not a measurement.",
            )
        )
    else:
        b.append(
            ("p", "Energy: the Loihi per-operation constants are not available (hardware_targets.loihi2.chip missing).")
        )
    if figures.get("spikes"):
        b.append(("img", figures["spikes"], "Spikes per layer"))
    if figures.get("operations"):
        b.append(("img", figures["operations"], "Operations and energy per inference"))

    b.append(("h2", "Footprint"))
    fp = report.footprint
    b.append(
        (
            "table",
            ["quantity", "value"],
            [
                ["weights", f"{fp['n_weights']:,}"],
                [
                    "packed weight bits (true, as stored)",
                    f"{fp['packed_weight_bits']:,} ({fp['bits_per_weight']:.2f} bits/weight)",
                ],
                ["packed weights", f"{fp['weights_packed_bytes']:,} B"],
                [
                    "same weights as float32",
                    f"{fp['weights_float32_bytes']:,} B ({fp['weights_ratio_float32']:.1f}x larger)",
                ],
                ["model file (weights, thresholds, biases, encoder, header)", f"{fp['model_file_bytes']:,} B"],
                ["thresholds and biases", f"{fp['parameter_bits']:,} bits (int32)"],
            ],
        )
    )
    for t in report.targets:
        if t.resources:
            b.append(("h3", f"{t.target}: resources"))
            b.extend(_resource_blocks(t.resources))
    return b


def _class_name(report: ParityReport, c: int) -> str:
    """``2 (zero)`` where the report records what the outputs stand for (as the confusion plots name them)."""
    ticks, _ = _class_ticks(report, report.network["layer_sizes"][-1])
    return f"{c} ({ticks[c]})" if ticks[c] != str(c) else str(c)


def _listed(indices: list, total: int) -> str:
    """``3, 17, 40`` or, when the list holds only the first few, ``3, 17, 40 (first 3 of 27)``."""
    shown = ", ".join(map(str, indices))
    return f"{shown} (first {len(indices)} of {total})" if total > len(indices) else shown


def _cell(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _resource_blocks(resources: dict) -> list[tuple]:
    """A target's resource report: its scalars, then its per-layer list, as tables; nested rest as JSON."""
    blocks: list[tuple] = []
    scalars = [[k, _cell(v)] for k, v in resources.items() if not isinstance(v, (dict, list))]
    if scalars:
        blocks.append(("table", ["quantity", "value"], scalars))
    layers = resources.get("layers")
    if isinstance(layers, list) and layers and all(isinstance(x, dict) for x in layers):
        keys = list(dict.fromkeys(k for layer in layers for k, v in layer.items() if not isinstance(v, (dict, list))))
        blocks.append(("table", keys, [[_cell(layer.get(k, "")) for k in keys] for layer in layers]))
    rest = {k: v for k, v in resources.items() if isinstance(v, (dict, list)) and k != "layers"}
    if rest:
        blocks.append(("pre", json.dumps(rest, indent=1, sort_keys=True)[:3000]))
    return blocks


def _ops_row(name, ops, energy, latency):
    spikes = ", ".join("-" if s is None else f"{s:.1f}" for s in ops["spikes_per_layer"])
    acs = ops.get("effective_acs")
    sparsity = ops.get("activation_sparsity")
    return [
        name,
        spikes,
        "-" if acs is None else f"{acs:,.1f}",
        f"{ops['effective_macs']:,.0f}",
        f"{ops['dense']:,}",
        f"{ops['neuron_updates']:,}",
        "-" if sparsity is None else f"{sparsity:.3f}",
        _joules(energy["joules_per_inference"]) if energy else "-",
        "-" if latency is None else str(latency),
    ]


# -- rendering ----------------------------------------------------------------------
def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: list[tuple]) -> str:
    out = []
    previous = None
    for kind, *rest in blocks:
        if previous == "li" and kind != "li":
            out.append("")  # a list must end with a blank line before what follows
        previous = kind
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + rest[0] + "\n")
        elif kind == "p":
            out.append(rest[0] + "\n")
        elif kind == "li":
            out.append(f"- {rest[0]}")
            continue
        elif kind == "table":
            head, rows = rest
            out.append("| " + " | ".join(map(_md_cell, head)) + " |")
            out.append("|" + "|".join("---" for _ in head) + "|")
            out.extend("| " + " | ".join(map(_md_cell, r)) + " |" for r in rows)
            out.append("")
        elif kind == "img":
            out.append(f"\n![{rest[1]}]({rest[0]})\n")
        elif kind == "pre":
            out.append("```\n" + rest[0] + "\n```\n")
    return "\n".join(out).rstrip() + "\n"


def _inline(text: str) -> str:
    """Escape, then turn **bold** and `code` into tags (the only Markdown our blocks use)."""
    import re

    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"\*(.+?)\*", r"<em>\1</em>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#f3f3f3}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:.8em}
td.exact{color:#1b7f73;font-weight:600}td.mismatch,td.failed{color:#c0392b;font-weight:600}
"""


def render_html(blocks: list[tuple], title: str) -> str:
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
    ]
    in_list = False
    for kind, *rest in blocks:
        if kind != "li" and in_list:
            out.append("</ul>")
            in_list = False
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{_inline(rest[0])}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{_inline(rest[0])}</p>")
        elif kind == "li":
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{_inline(rest[0])}</li>")
        elif kind == "table":
            head, rows = rest
            out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>")
            for r in rows:
                cells = "".join(
                    f"<td class='{c}'>{html.escape(c)}</td>"
                    if c in ("exact", "mismatch", "failed")
                    else f"<td>{html.escape(str(c))}</td>"
                    for c in r
                )
                out.append(f"<tr>{cells}</tr>")
            out.append("</table>")
        elif kind == "img":
            out.append(f"<p><img src='{html.escape(rest[0])}' alt='{html.escape(rest[1])}'></p>")
        elif kind == "pre":
            out.append(f"<pre>{html.escape(rest[0])}</pre>")
    if in_list:
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- plots --------------------------------------------------------------------------
def _plots(report: ParityReport, folder: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    figs = {}
    ran = [t for t in report.targets if t.status != "failed"]
    try:
        figs["confusion"] = _plot_confusion(plt, report, ran, folder / "confusion.png")
        figs["spikes"] = _plot_spikes(plt, report, ran, folder / "spikes_per_layer.png")
        figs["agreement"] = _plot_agreement(plt, report, folder / "agreement.png")
        figs["operations"] = _plot_operations(plt, report, ran, folder / "operations.png")
    finally:
        plt.close("all")
    return {k: v for k, v in figs.items() if v is not None}


def _plot_confusion(plt, report, ran, path):
    # titles carry the report's own error: a label the model has no class for counts as wrong
    # there but has no row in the matrix
    mats = [("trained model", np.asarray(report.software["confusion"]), None, report.software["error"])]
    mats += [(t.target, np.asarray(t.confusion), t.status, t.error) for t in ran if t.confusion is not None]
    n = len(mats)
    cols = min(n, 4)
    rows = -(-n // cols)
    k = mats[0][1].shape[0]
    size = 3.2 if k <= 10 else 4.0
    fig, axes = plt.subplots(
        rows, cols, figsize=(size * cols + 1.2, (size + 1.0) * rows + 0.5), squeeze=False, layout="constrained"
    )
    vmax = max(int(m.max()) for _, m, _, _ in mats) or 1
    ticks, named = _class_ticks(report, k)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, (name, m, status, err) in zip(axes.ravel(), mats, strict=False):
        im = ax.imshow(m, cmap="Blues", vmin=0, vmax=vmax)
        mark = "" if status in (None, "exact") else f" [{status}]"
        shown = "-" if err is None else f"{100 * err:.1f}%"
        ax.set_title(f"{name}{mark}\nerror {shown}", fontsize=10, color="#c0392b" if mark else "black")
        ax.set_xlabel("predicted class")
        if ax in axes[:, 0]:
            ax.set_ylabel("true class")
        if k <= 12:
            ax.set_xticks(range(k), ticks, rotation=90 if named else 0)
            ax.set_yticks(range(k), ticks)
            for i in range(k):
                for j in range(k):
                    if m[i, j]:
                        ax.text(
                            j,
                            i,
                            str(m[i, j]),
                            ha="center",
                            va="center",
                            fontsize=7 if k > 6 else 9,
                            color="white" if m[i, j] > 0.6 * vmax else "black",
                        )
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="samples")
    beyond = report.labels_beyond_model
    note = f"\n{beyond} sample(s) with a label the model has no class for: counted wrong, not shown" if beyond else ""
    fig.suptitle("Confusion matrices: trained model vs each target" + note, fontsize=12)
    _save_png(fig, path)
    return path


def _class_ticks(report, k: int) -> tuple[list[str], bool]:
    """What each row and column of a confusion matrix stands for (``parity.output_labels``: class names,
    else training labels, else the output index), and whether the ticks are names (long: turned)."""
    names, classes = report.network.get("class_names"), report.network.get("classes")
    named = output_labels(names, classes, k)
    return (named or [str(i) for i in range(k)]), output_labels(names, None, k) is not None


def _plot_spikes(plt, report, ran, path):
    series = [("trained model", report.software["spikes_per_layer"])]
    series += [(t.target, t.spikes_per_layer) for t in ran if t.spikes_per_layer]
    sizes = report.network["layer_sizes"][:-1]
    labels = ["input\n(encoded)"] + [f"hidden {i}" for i in range(len(sizes) - 1)]
    labels = [f"{lab}\n{s} neurons" for lab, s in zip(labels, sizes, strict=False)]
    x = np.arange(len(labels))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(7.5, 1.6 * len(labels) + 4), 4.2), layout="constrained")
    differing = {t.target: _spikes_differ(t) for t in ran}
    for i, (name, vals) in enumerate(series):
        v = np.array([np.nan if s is None else s for s in vals], dtype=float)
        if differing.get(name):  # its bars may look like the model's: say that its spikes are not
            name += "\n" + "\n".join(textwrap.wrap(f"({differing[name]})", 30))
        ax.bar(x + (i - (len(series) - 1) / 2) * width, v, width, label=name, color=_PALETTE[i % len(_PALETTE)])
    ax.set_xticks(x)
    ax.set_xticklabels(labels)
    ax.set_ylabel("spikes per inference (mean)")
    # a mean hides which neurons fire: one neuron off on 27 of 300 samples moves it by a fraction of
    # a spike, so equal bars are no sign of equal spikes
    fig.suptitle("Mean spikes per inference, per layer", fontsize=12)
    ax.set_title("Equal bars do not mean equal spikes: which neurons fire, on which\nsamples, can still differ "
                 "(the per-layer table compares them)", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="run", title_fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    _save_png(fig, path)
    return path


def _spikes_differ(t) -> str | None:
    """``spikes differ on 27 samples (hidden layer 0)`` for a target whose hidden spikes differ
    somewhere (its first such layer), ``hidden spikes not recorded`` when it recorded none; None
    when they are equal."""
    hidden = [lp for lp in t.layers if lp.layer.startswith("hidden")]
    first = next((lp for lp in hidden if lp.equal is False), None)
    if first is not None:
        return f"spikes differ on {first.samples_differing} samples ({first.layer})"
    return "hidden spikes not recorded" if any(lp.equal is None for lp in hidden) else None


def _agreement_text(t) -> str:
    """What a target's bar says: the classes that agree, then what else differs (``300/300
    classes; scores differ on 27``): a mismatch can keep every class."""
    if t.status == "failed":
        return "did not run"
    text = f"{t.agreeing}/{t.n_samples} classes"
    if t.scores_equal is None:
        return f"{text} ({t.status})"
    if not t.scores_equal:
        return f"{text}; scores differ on {t.score_samples_differing}"
    spikes = _spikes_differ(t)
    return f"{text} and scores; {spikes}" if spikes else f"{text}; every spike and score equal"


def _plot_agreement(plt, report, path):
    if not report.targets:
        return None
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize, to_rgba

    targets = report.targets
    names = [t.target for t in targets]
    layer_names = [f"hidden {i}" for i in range(len(report.network["layer_sizes"]) - 2)] + ["output scores"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 0.55 * len(names) + 2.8), gridspec_kw={"width_ratios": [1, 1.2]},
                                   layout="constrained")
    y = np.arange(len(names))
    # each bar in three parts: samples with the model's very scores, the same class from other scores,
    # another class (a class differs only where the scores do); where the scores were not compared,
    # agreeing classes in one part
    ran = [t.status != "failed" for t in targets]
    differ = np.array([t.disagreeing if r else 0 for t, r in zip(targets, ran, strict=True)])
    moved = np.array([t.score_samples_differing - t.disagreeing if r and t.scores_equal is not None else 0
                      for t, r in zip(targets, ran, strict=True)])
    same = np.array([t.agreeing if r else 0 for t, r in zip(targets, ran, strict=True)]) - moved
    ax1.barh(y, same, color=_COLORS["exact"], label="same scores (so same class)")
    ax1.barh(y, moved, left=same, color="#f4a261", hatch="//", edgecolor="white", label="same class, other scores")
    ax1.barh(y, differ, left=same + moved, color=_COLORS["mismatch"], label="different class")
    for i, t in enumerate(targets):
        ax1.text(report.n_samples * 0.02, i, _agreement_text(t), va="center", fontsize=8,
                 bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1.5})
    ax1.set_yticks(y)
    ax1.set_yticklabels(names)
    ax1.invert_yaxis()
    ax1.set_xlim(0, max(report.n_samples, 1))
    ax1.set_xlabel("samples")
    ax1.set_title("Agreement with the trained model per target")
    # below the axes: inside, it covered the last target's bar
    ax1.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)

    grid = np.full((len(names), len(layer_names)), np.nan)
    for i, t in enumerate(targets):
        for j, lp in enumerate(t.layers):
            if lp.equal is not None:
                grid[i, j] = lp.samples_differing
    # colours scaled to the samples run, with a colour bar: scaled to the largest count, 27 of 300
    # looked like all of them. No difference is its own colour (a light red would read as "a few")
    n = max(report.n_samples, 1)
    cmap = ListedColormap(plt.get_cmap("Reds")(np.linspace(0.2, 1.0, 256)))
    norm = Normalize(0, n)
    colours = np.zeros((*grid.shape, 4))
    for (i, j), v in np.ndenumerate(grid):
        colours[i, j] = (to_rgba("#eeeeee") if np.isnan(v) or not ran[i] else
                         to_rgba(_COLORS["exact"], 0.25) if v == 0 else cmap(norm(v)))
    ax2.imshow(colours, aspect="auto")
    for i in range(len(names)):
        for j in range(len(layer_names)):
            v = grid[i, j]
            label = "n/a" if np.isnan(v) else ("=" if v == 0 else f"{int(v)} of {report.n_samples}")
            if not ran[i]:
                label = "-"
            dark = not np.isnan(v) and v > 0.6 * n
            ax2.text(j, i, label, ha="center", va="center", fontsize=9, color="white" if dark else "black")
    fig.colorbar(ScalarMappable(norm, cmap), ax=ax2, label=f"samples differing (of {report.n_samples})")
    ax2.set_xticks(range(len(layer_names)))
    ax2.set_xticklabels(layer_names, rotation=20)
    ax2.set_yticks(y)
    ax2.set_yticklabels(names)
    ax2.set_title("Samples with differing spikes/scores, per layer\n('=' identical to the trained model)")
    _save_png(fig, path)
    return path


def _plot_operations(plt, report, ran, path):
    runs = [("trained model", report.software["operations"], report.software.get("energy"))]
    runs += [(t.target, t.operations, t.energy) for t in ran if t.operations]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.9))
    names = ["float MLP\n(dense MACs)"] + [f"{n}\n(ACs)" for n, _, _ in runs]
    values = [report.float_mlp["macs_per_inference"]] + [o["effective_acs"] or 0 for _, o, _ in runs]
    colors = ["#4c4c4c"] + [_PALETTE[i % len(_PALETTE)] for i in range(len(runs))]
    bars = ax1.bar(range(len(names)), values, color=colors)
    for bar, v in zip(bars, values, strict=False):
        ax1.text(bar.get_x() + bar.get_width() / 2, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=8)
    ax1.set_xticks(range(len(names)))
    ax1.set_xticklabels(names, fontsize=8, rotation=30, ha="right")
    ax1.set_ylabel("operations per inference")
    ax1.set_title("Synaptic operations: float MLP multiply-accumulates\nvs spiking accumulates")
    ax1.set_ylim(0, max(values) * 1.15 if max(values) else 1)
    energies = [(n, e) for n, _, e in runs if e]
    if energies:
        x = np.arange(len(energies))
        syn = np.array([e["synaptic_joules"] for _, e in energies]) * 1e9
        neu = np.array([e["neuron_joules"] for _, e in energies]) * 1e9
        ax2.bar(x, syn, color="#2a9d8f", label="synaptic ops")
        ax2.bar(x, neu, bottom=syn, color="#e9c46a", label="neuron updates")
        for i in range(len(x)):
            ax2.text(x[i], syn[i] + neu[i], f"{syn[i] + neu[i]:.3g} nJ", ha="center", va="bottom", fontsize=8)
        ax2.set_xticks(x)
        ax2.set_xticklabels([n for n, _ in energies], fontsize=8, rotation=30, ha="right")
        ax2.set_ylabel("energy per inference (nJ)")
        ax2.set_ylim(0, float((syn + neu).max()) * 1.35 or 1)
        ax2.legend(fontsize=8, loc="upper center", ncol=2)
        ax2.set_title("Loihi energy estimate per inference\n(Davies et al. 2018 per-op figures)")
    else:
        ax2.axis("off")
        ax2.text(0.5, 0.5, "energy constants unavailable", ha="center")
    fig.tight_layout()
    _save_png(fig, path)
    return path

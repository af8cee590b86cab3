"""Verify that a deployed network classifies exactly like the trained model.

>>> from connttra_neuro.verify import verify, write_report
>>> report = verify(network, ["reference", "loihi2", "brian2"], X, y)
>>> report.all_exact, report.target("loihi2").first_differing_layer
>>> write_report(report, "reports/parity")     # JSON + Markdown + HTML + PNG plots
"""

from .ops import count_operations, float_mlp_macs, loihi_energy, loihi_energy_constants
from .parity import SCHEMA, SCHEMA_VERSION, LayerParity, ParityReport, TargetParity, verify

__all__ = [
    "verify",
    "ParityReport",
    "TargetParity",
    "LayerParity",
    "SCHEMA",
    "SCHEMA_VERSION",
    "count_operations",
    "float_mlp_macs",
    "loihi_energy",
    "loihi_energy_constants",
    "write_report",
]


def write_report(report, out_dir, **kwargs):
    """Write ``report`` as JSON, Markdown and HTML with PNG plots; see :func:`.report.write_report`."""
    from .report import write_report as _write  # matplotlib only when a report is written

    return _write(report, out_dir, **kwargs)

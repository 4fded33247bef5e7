"""Seeing inside the server: traces (``tracing.py``), metrics (``metrics.py``), structured
logs (``logs.py``), and the hooks that feed them (``telemetry.py``, ``operation.py``)."""

from .metrics import Metrics
from .telemetry import Telemetry, UpstreamCall
from .tracing import Tracing

__all__ = ["Metrics", "Telemetry", "Tracing", "UpstreamCall"]

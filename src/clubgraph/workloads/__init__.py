"""The canonical workloads W0-W4 (DESIGN.md) that tests, GraphiQL and benchmarks share."""

from __future__ import annotations

from importlib.resources import files

NAMES = {
    "W0": "w0_n_plus_one",
    "W1": "w1_dashboard",
    "W2": "w2_large_list",
    "W3": "w3_member_view",
    "W4": "w4_write",
}


def load(name: str) -> str:
    """The GraphQL document of workload ``name`` ("W1", "W2", ...)."""
    return (files(__package__) / f"{NAMES[name]}.graphql").read_text()

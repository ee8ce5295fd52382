"""Reading the recorded series: a sample's value, and how many series a metric has."""

from __future__ import annotations

from ait_connectors.metrics.definitions import REGISTRY


def sample(name: str, **labels: str) -> float:
    """The value of ``name`` (``…_total``, ``…_count``) for ``labels``; 0 when never recorded."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def series_count() -> int:
    """How many labelled series all the ``ait_`` metrics hold together."""
    return sum(
        len({tuple(sorted(s.labels.items())) for s in family.samples})
        for family in REGISTRY.collect()
    )

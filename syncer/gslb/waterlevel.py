"""Water level of a site (pure): drained when load passes ``high``, back below ``low``.

Load is measured by the edges' metrics-server and read through syncer/metricsapi
(``site_load`` in syncer.kinds.servicedomain_translate). A syncer without the metrics
API, or a site whose pods request nothing, passes ``load=None``: never drained.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WaterLevel:
    high: float
    low: float

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"waterLevel.low ({self.low}) must be below high ({self.high})")


def next_drained(was_drained: bool, load: float | None, level: WaterLevel | None) -> bool:
    """Hysteresis: a site drains above ``high`` and stays drained until load is below ``low``.

    Unknown load (no metrics) or no water level never drains a site."""
    if load is None or level is None:
        return False
    if was_drained:
        return load >= level.low
    return load > level.high

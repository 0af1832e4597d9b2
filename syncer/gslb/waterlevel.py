"""Water level of a site (pure): drained when load passes ``high``, back below ``low``.

Load comes from the metrics pipeline, which has not landed: until it does, the syncer
passes ``load=None`` and no site is ever drained (weights are ready replicas only).
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

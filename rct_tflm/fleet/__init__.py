"""Fleet training: many boards learn one model with Flower, integer-only, no raw data leaving a
board (docs/fleet.md). `run_fleet(FleetConfig(...))` is what `rct-tflm fleet` runs."""
from .run import FleetConfig, run_fleet
from .shards import parse_split, split_shards

__all__ = ["FleetConfig", "run_fleet", "parse_split", "split_shards"]

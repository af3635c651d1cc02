"""The IoT pipeline tasktonic is built for: devices → state machines → site aggregators → twin.

``python -m tasktonic demo`` runs it; ``bench/`` measures it; ``tasktonic.iot.scaleout`` spreads
it over processes or machines through an MQTT broker.
"""
from .model import Thresholds, partition_of
from .pipeline import FleetConfig, Progress, run_fleet

__all__ = ["FleetConfig", "Progress", "Thresholds", "partition_of", "run_fleet"]

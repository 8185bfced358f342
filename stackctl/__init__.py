"""stackctl: run a Compose file on one engine or on a swarm of machines."""

__version__ = "0.1.0"

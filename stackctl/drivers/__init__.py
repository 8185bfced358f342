"""stackctl.drivers."""

"""stackctl.cluster."""

"""stackctl.lab."""

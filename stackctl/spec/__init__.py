"""stackctl.spec."""

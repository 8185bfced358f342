"""stackctl.lb."""

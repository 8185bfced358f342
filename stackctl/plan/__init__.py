"""stackctl.plan."""

"""stackctl.cli."""

"""stackctl.composefile."""

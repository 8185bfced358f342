"""stackctl.compose."""

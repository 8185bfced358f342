"""Helpers shared by the test tiers (no test functions here)."""

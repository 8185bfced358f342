"""Durations as docker prints them (CREATED, `Up …`, `Running … ago`): shared by the laptop's and the
cluster's listings. Pure."""

from __future__ import annotations


def human_duration(seconds: float) -> str:
    """go-units' HumanDuration: `Less than a second`, `About a minute`, `2 hours` (hours round)."""
    s, minutes, hours = int(seconds), int(seconds // 60), int(seconds / 3600 + 0.5)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    if hours == 1:
        return "About an hour"
    for limit, size, unit in ((48, 1, "hours"), (24 * 7 * 2, 24, "days"), (24 * 30 * 2, 24 * 7, "weeks"),
                              (24 * 365 * 2, 24 * 30, "months")):
        if hours < limit:
            return f"{hours // size} {unit}"
    return f"{int(seconds // 3600) // (24 * 365)} years"

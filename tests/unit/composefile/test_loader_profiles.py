"""Profiles, service selection and unused resources on normalized dicts."""

from __future__ import annotations

import pytest

from stackctl.composefile import profiles
from stackctl.errors import UsageError

SERVICES = {
    "web": {"image": "nginx", "depends_on": {"api": {"condition": "service_started", "required": True}}},
    "api": {"image": "api", "depends_on": {"debug": {"condition": "service_started", "required": False}}},
    "debug": {"image": "busybox", "profiles": ["dev"]},
    "tools": {"image": "busybox", "profiles": ["ops", "dev"]},
}


def test_compose_profiles_variable_is_used_when_no_flag() -> None:
    assert profiles.active_profiles((), {"COMPOSE_PROFILES": "dev, ops"}) == ("dev", "ops")
    assert profiles.active_profiles(("x",), {"COMPOSE_PROFILES": "dev"}) == ("x",)


@pytest.mark.parametrize(("active", "enabled"), [
    ((), {"web", "api"}),
    (("ops",), {"web", "api", "tools"}),
    (("dev",), {"web", "api", "debug", "tools"}),
    (("*",), {"web", "api", "debug", "tools"}),
])
def test_services_without_profiles_are_always_enabled(active: tuple[str, ...], enabled: set[str]) -> None:
    split = profiles.split_services(SERVICES, active)
    assert set(split.enabled) == enabled
    assert set(split.disabled) == set(SERVICES) - enabled


def test_naming_a_disabled_service_enables_its_profiles() -> None:
    split = profiles.enable_services(profiles.split_services(SERVICES, ()), ["tools"])
    assert set(split.enabled) == set(SERVICES)  # `tools` brings `dev`, which enables `debug` too


def test_optional_dependency_on_a_disabled_service_is_hidden_from_the_checker() -> None:
    split = profiles.split_services(SERVICES, ())
    checked = profiles.without_optional_disabled(split.enabled, split.disabled)
    assert checked["api"]["depends_on"] == {}
    assert split.enabled["api"]["depends_on"]  # the document itself keeps the entry


def test_selected_services_bring_their_dependencies() -> None:
    chosen = profiles.select_services(SERVICES, ["web"])
    assert set(chosen) == {"web", "api", "debug"}
    only_api = profiles.select_services(SERVICES, ["a*"])
    assert set(only_api) == {"api", "debug"}
    assert "api" not in profiles.select_services(SERVICES, ["debug"])


def test_selecting_an_unknown_service_is_an_error() -> None:
    with pytest.raises(UsageError, match="no such service: nope"):
        profiles.select_services(SERVICES, ["nope"])

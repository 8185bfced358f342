"""`stack deploy`'s local decisions: what a cluster refuses (one line naming the key, before any connection),
what it ignores with a warning, and which records a deploy writes (versions grow only for what changed)."""

from __future__ import annotations

from typing import Any

import pytest

from stackctl.cluster.deploy import prepare, records
from stackctl.errors import SpecError

ID = "sha256:" + "1" * 64


def doc(**services: dict[str, Any]) -> dict[str, Any]:
    return {"name": "shop", "services": services, "networks": {"default": {"name": "shop_default"}}}


def refusal(document: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as info:
        prepare("shop", document, file="compose.yaml")
    return info.value.lines()


def test_dnsrr_is_refused_in_one_line_naming_the_key() -> None:
    lines = refusal(doc(web={"image": "nginx", "deploy": {"endpoint_mode": "dnsrr"}}))
    assert lines == [("compose.yaml: services.web.deploy.endpoint_mode: dnsrr cannot work in a stackctl cluster: "
                     "every service is reached through its virtual IP (remove it, or use vip)")]


@pytest.mark.parametrize("service, path, words", [
    ({"image": "a", "deploy": {"mode": "replicated-job"}}, "deploy.mode", "cannot be deployed"),
    ({"image": "a", "deploy": {"placement": {"constraints": ["engine.labels.x==y"]}}},
     "deploy.placement.constraints[0]", "unknown key"),
    ({"image": "a", "deploy": {"placement": {"constraints": ["node.role=manager"]}}},
     "deploy.placement.constraints[0]", "is not <key>==<value>"),
    ({"image": "a", "network_mode": "service:db"}, "network_mode", "another node"),
    ({"image": "a", "volumes_from": ["db"]}, "volumes_from", "another node"),
    ({"image": "a", "secrets": [{"source": "s"}]}, "secrets", "not supported"),
    ({"image": "a", "deploy": {"mode": "global", "replicas": 2}}, "deploy.replicas", "replicated mode"),
])
def test_what_cannot_work_in_a_cluster_is_refused(service: dict[str, Any], path: str, words: str) -> None:
    (line,) = refusal(doc(web=service))
    assert line.startswith(f"compose.yaml: services.web.{path}: ") and words in line


def test_every_problem_is_named_at_once() -> None:
    lines = refusal(doc(a={"image": "x", "deploy": {"endpoint_mode": "dnsrr"}}, b={"image": "y", "volumes_from": ["a"]}))
    assert len(lines) == 2


@pytest.mark.parametrize("name", ["Shop", "-x", "a/b", "", "x" * 64])
def test_a_bad_stack_name_is_refused(name: str) -> None:
    with pytest.raises(SpecError, match="invalid stack name"):
        prepare(name, doc(web={"image": "a"}), file="f")


def test_ignored_keys_are_dropped_with_one_warning_and_build_only_gets_compose_image_name() -> None:
    prepared = prepare("shop", doc(web={"image": "nginx", "build": {"context": "."}, "restart": "always",
                                        "container_name": "w"}, api={"build": {"context": "api"}}), file="f")
    assert prepared.images == {"web": "nginx", "api": "shop-api"}
    assert "build" not in prepared.document["services"]["web"] and "restart" not in prepared.document["services"]["web"]
    assert prepared.warnings == ["services.web: ignoring what a cluster does not use: build, container_name, restart"]
    constraints = ["node.role==manager", "node.labels.disk == ssd", "node.hostname!=node3", "node.id==n1"]
    ok = prepare("shop", doc(web={"image": "a", "deploy": {"placement": {"constraints": constraints}}}), file="f")
    assert ok.warnings == []


def test_records_first_deploy_then_no_change_then_scale_and_new_image() -> None:
    d = doc(web={"image": "nginx", "deploy": {"replicas": 3}}, db={"image": "redis", "deploy": {"mode": "global"}})
    p = prepare("shop", d, file="f")
    stack, services, changed = records(p, name="shop", image_ids={"nginx": ID}, now=10.0, previous=None,
                                       previous_services=[])
    assert changed and stack.version == 1 and stack.images == {"nginx": ID} and stack.created == 10.0
    assert [(s.service, s.mode, s.replicas, s.version) for s in services] == [
        ("db", "global", 0, 1), ("web", "replicated", 3, 1)]

    again, same, changed2 = records(p, name="shop", image_ids={"nginx": ID}, now=20.0, previous=stack,
                                    previous_services=services)
    assert not changed2 and again is stack and same == services

    scaled = prepare("shop", doc(web={"image": "nginx", "deploy": {"replicas": 5}},
                                 db={"image": "redis", "deploy": {"mode": "global"}}), file="f")
    stack3, services3, changed3 = records(scaled, name="shop", image_ids={"nginx": ID}, now=30.0, previous=stack,
                                          previous_services=services)
    web3 = next(s for s in services3 if s.service == "web")
    assert changed3 and stack3.version == 2 and stack3.created == 10.0 and stack3.updated == 30.0
    assert (web3.replicas, web3.version, web3.spec_hash) == (5, 2, services[1].spec_hash)  # scale: same spec
    assert services3[0] is services[0]  # db untouched

    _, services4, changed4 = records(p, name="shop", image_ids={"nginx": "sha256:" + "2" * 64}, now=40.0,
                                     previous=stack, previous_services=services)
    assert changed4 and services4[1].spec_hash != services[1].spec_hash  # a rebuilt image under the same tag


def test_removed_service_counts_as_a_change() -> None:
    both = prepare("shop", doc(web={"image": "a"}, db={"image": "b"}), file="f")
    stack, services, _ = records(both, name="shop", image_ids={}, now=1.0, previous=None, previous_services=[])
    one = prepare("shop", doc(web={"image": "a"}), file="f")
    _, left, changed = records(one, name="shop", image_ids={}, now=2.0, previous=stack, previous_services=services)
    assert changed and [s.service for s in left] == ["web"]

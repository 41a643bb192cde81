"""Scale-out deployment files (services/): every YAML/JSON file parses, and the pieces refer to each other.

Checked without a cluster or an Envoy binary: the Kubernetes objects' cross-references (selectors,
port names, the autoscaler's target), metric names against the metrics the server really exports,
and the Envoy config's structure (listener -> router -> cluster, HTTP/2 upstreams, gRPC health
checks on the service the server reports, retries on UNAVAILABLE).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from youtu_embedding.serve.client import HEALTH_SERVICE
from youtu_embedding.serve.metrics import ServeMetrics
from youtu_embedding.serve.server import SERVED

yaml = pytest.importorskip("yaml")

SERVICES_DIR = Path(__file__).resolve().parents[3] / "services"
if not SERVICES_DIR.is_dir():  # pragma: no cover - an installed package without the repository
    pytest.skip("services/ not in this checkout", allow_module_level=True)


def _docs(relative: str) -> list[Any]:
    return [d for d in yaml.safe_load_all((SERVICES_DIR / relative).read_text()) if d is not None]


def _kind(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, (kind, name, [d["metadata"]["name"] for d in docs if d["kind"] == kind])
    return found[0]


def _exported_metrics() -> set[str]:
    """Names of the series the server exports (gauges as is; counters with _total)."""
    names = set()
    for family in ServeMetrics().registry.collect():
        names.update(sample.name for sample in family.samples)
        names.add(family.name)
    return names


def test_every_yaml_and_json_file_parses() -> None:
    files = sorted(p for p in SERVICES_DIR.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    assert len(files) >= 5, files
    for path in files:
        if path.suffix == ".json":
            json.loads(path.read_text())
        else:
            docs = list(yaml.safe_load_all(path.read_text()))
            assert docs and all(isinstance(d, dict) for d in docs if d is not None), path
            for doc in docs:
                if doc is not None and "kind" in doc:
                    assert {"apiVersion", "metadata"} <= set(doc) and doc["metadata"].get("name"), path


def test_replicas_autoscaled_and_reachable_through_a_headless_service() -> None:
    docs = _docs("kubernetes/youtu-embed.yaml")
    deployment = _kind(docs, "Deployment", "youtu-embed")
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the count
    container_ports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}

    headless = _kind(docs, "Service", "youtu-embed-headless")
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["selector"].items() <= labels.items()
    assert not headless["spec"].get("publishNotReadyAddresses", False)
    (port,) = headless["spec"]["ports"]
    assert container_ports[port["targetPort"]] == port["port"] == 50051
    readiness = pod["spec"]["containers"][0]["readinessProbe"]["grpc"]
    assert readiness["service"] == HEALTH_SERVICE  # DNS lists only replicas whose health is SERVING

    hpa = _kind(docs, "HorizontalPodAutoscaler", "youtu-embed")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert pod["spec"]["containers"][0]["resources"]["requests"]["cpu"]  # utilisation needs a request
    # a scale-down drains a replica: the pod must outlive the server's grace period
    settings = __import__("tomllib").loads(_kind(docs, "ConfigMap")["data"]["serve.toml"])
    assert pod["spec"]["terminationGracePeriodSeconds"] > settings["grace_period_s"]


def test_queue_size_autoscaler_uses_a_metric_the_server_exports() -> None:
    exported = _exported_metrics()
    (hpa,) = _docs("kubernetes/hpa-queue-size.yaml")
    cpu_hpa = _kind(_docs("kubernetes/youtu-embed.yaml"), "HorizontalPodAutoscaler")
    assert hpa["metadata"]["name"] == cpu_hpa["metadata"]["name"]  # applying it replaces the CPU autoscaler
    assert hpa["spec"]["scaleTargetRef"] == cpu_hpa["spec"]["scaleTargetRef"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods" and metric["pods"]["target"]["type"] == "AverageValue"
    name = metric["pods"]["metric"]["name"]
    assert name == "youtu_serve_queue_size" and name in exported
    assert float(metric["pods"]["target"]["averageValue"]) > 0

    (values,) = _docs("kubernetes/prometheus-adapter-values.yaml")
    rules = values["rules"]["custom"]
    published = {rule["name"]["as"] for rule in rules}
    assert name in published
    for rule in rules:
        series = re.match(r"(\w+)\{", rule["seriesQuery"]).group(1)
        assert series in exported, series
        assert rule["resources"]["overrides"]["pod"] == {"resource": "pod"}
        assert "<<.Series>>" in rule["metricsQuery"] and "<<.GroupBy>>" in rule["metricsQuery"]


def test_envoy_balances_grpc_calls_over_healthy_replicas_with_retries() -> None:
    assert HEALTH_SERVICE in SERVED  # a health status the server really reports
    (config,) = _docs("envoy/envoy.yaml")
    resources = config["static_resources"]
    clusters = {c["name"]: c for c in resources["clusters"]}
    (listener,) = resources["listeners"]
    (chain,) = listener["filter_chains"]
    (hcm,) = chain["filters"]
    assert hcm["name"] == "envoy.filters.network.http_connection_manager"
    typed = hcm["typed_config"]
    assert typed["@type"].endswith("http_connection_manager.v3.HttpConnectionManager")
    assert typed["http_filters"][-1]["name"] == "envoy.filters.http.router"  # the router comes last
    routes = [r for vh in typed["route_config"]["virtual_hosts"] for r in vh["routes"]]
    assert routes
    for route in routes:
        action = route["route"]
        assert action["cluster"] in clusters
        retry = action["retry_policy"]
        assert "unavailable" in retry["retry_on"].split(",") and retry["num_retries"] >= 1
        assert retry["retry_host_predicate"][0]["name"] == "envoy.retry_host_predicates.previous_hosts"

    headless = _kind(_docs("kubernetes/youtu-embed.yaml"), "Service", "youtu-embed-headless")
    proxy_service = _kind(_docs("kubernetes/envoy-proxy.yaml"), "Service", "youtu-embed-proxy")
    assert proxy_service["spec"]["ports"][0]["port"] == listener["address"]["socket_address"]["port_value"]
    for cluster in clusters.values():
        assert cluster["type"] == "STRICT_DNS" and cluster["lb_policy"] in ("LEAST_REQUEST", "ROUND_ROBIN")
        options = cluster["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
        assert "http2_protocol_options" in options["explicit_http_config"]  # gRPC needs HTTP/2 upstream
        (health,) = cluster["health_checks"]
        assert health["grpc_health_check"]["service_name"] == HEALTH_SERVICE
        endpoints = [
            e["endpoint"]["address"]["socket_address"]
            for g in cluster["load_assignment"]["endpoints"]
            for e in g["lb_endpoints"]
        ]
        assert endpoints == [
            {"address": headless["metadata"]["name"], "port_value": headless["spec"]["ports"][0]["port"]}
        ]
    for type_url in re.findall(r'"@type": (\S+)', (SERVICES_DIR / "envoy" / "envoy.yaml").read_text()):
        assert type_url.startswith("type.googleapis.com/envoy."), type_url

"""The production compose file: Kafka in KRaft mode, a MongoDB replica set, replicas of every service wired right."""

import os
import re
import subprocess
import sys
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient

from relay_contracts.topics import ALL_TOPICS
from relay_kit.settings import ServiceSettings
from relay_stack.stack import DEFAULT_PORTS
from tests.deploy.queries import DEPLOY

SETTINGS = {"ingest": "IngestSettings", "issues": "IssuesSettings", "chat": "ChatSettings",
            "notify": "NotifySettings", "gateway": "GatewaySettings"}
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
KAFKA_NODES = sorted(name for name, spec in SERVICES.items() if spec.get("image", "").startswith("apache/kafka:"))
MONGO_NODES = sorted(name for name, spec in SERVICES.items()
                     if spec.get("image", "").startswith("mongo:") and "--replSet" in spec.get("command", []))


def environment(service: str) -> dict[str, str]:
    """A compose service's environment, values as strings."""
    return {key: str(value) for key, value in SERVICES[service].get("environment", {}).items()}


def command_line(service: str) -> str:
    """A compose service's command as one shell line."""
    command = SERVICES[service]["command"]
    return command if isinstance(command, str) else " ".join(command)


def setting_names(service: str) -> set[str]:
    """The environment variables a Relay service reads (its pydantic-settings fields and their aliases)."""
    settings: type[ServiceSettings] = getattr(import_module(f"relay_{service}.settings"), SETTINGS[service])
    prefix = settings.model_config.get("env_prefix", "")
    return {(field.validation_alias if isinstance(field.validation_alias, str) else f"{prefix}{name}").upper()
            for name, field in settings.model_fields.items()}


def test_kafka_runs_in_kraft_mode_every_node_a_broker_and_controller_of_one_quorum() -> None:
    assert len(KAFKA_NODES) >= 3, KAFKA_NODES
    assert not [name for name in SERVICES if "zookeeper" in name.lower()]
    node_ids = {environment(node)["KAFKA_NODE_ID"]: node for node in KAFKA_NODES}
    expected_voters = {f"{node_id}@{node}:9093" for node_id, node in node_ids.items()}
    for node in KAFKA_NODES:
        env = environment(node)
        assert not [key for key in env if "ZOOKEEPER" in key], node
        assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}, node
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == expected_voters, node
        assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{node}:9092", node
        assert env["CLUSTER_ID"]
        assert int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == len(KAFKA_NODES)
        assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) == len(KAFKA_NODES) - 1
        assert any(volume.endswith(":" + env["KAFKA_LOG_DIRS"]) for volume in SERVICES[node]["volumes"]), node
    assert len({environment(node)["CLUSTER_ID"] for node in KAFKA_NODES}) == 1


def test_mongodb_is_a_replica_set_initiated_once_by_a_one_shot_step() -> None:
    assert len(MONGO_NODES) >= 3, MONGO_NODES
    for node in MONGO_NODES:
        command = SERVICES[node]["command"]
        assert command[command.index("--replSet") + 1] == "rs0", node
        assert "healthcheck" in SERVICES[node], node
    init = SERVICES["mongo-init"]
    assert set(init["depends_on"]) == set(MONGO_NODES)
    mount = next(volume for volume in init["volumes"] if volume.startswith("./mongo/"))
    script_path, script_in_container = mount.split(":")[:2]
    assert script_in_container in init["command"]
    script = (DEPLOY / script_path).read_text()
    assert "rs.initiate" in script and '_id: "rs0"' in script
    assert sorted(re.findall(r'host: "([\w-]+):27017"', script)) == MONGO_NODES


@pytest.mark.parametrize("service", list(SETTINGS))
def test_every_service_runs_replicated_on_kafka_and_the_mongo_replica_set(service: str) -> None:
    spec = SERVICES[service]
    env = environment(service)
    assert command_line(service).endswith(f"python -m relay_{service}")
    assert spec["deploy"]["replicas"] >= 2
    assert spec["build"]["dockerfile"] == "deploy/Dockerfile"
    assert {node.split(":")[0] for node in env["KAFKA_BOOTSTRAP_SERVERS"].split(",")} == set(KAFKA_NODES)
    mongo = urlsplit(env["MONGODB_URI"])
    assert mongo.scheme == "mongodb"
    assert {host.split(":")[0] for host in mongo.netloc.split(",")} == set(MONGO_NODES)
    assert "replicaSet=rs0" in mongo.query
    assert env["RELAY_HTTP_HOST"] == "0.0.0.0"
    assert int(env["RELAY_HTTP_PORT"]) == DEFAULT_PORTS[service]
    assert env["RELAY_JWT_SECRET"].startswith("${RELAY_JWT_SECRET:?")  # required, never a default
    assert env["RELAY_ADMIN_TOKEN"].startswith("${RELAY_ADMIN_TOKEN:?")
    for step in ("topics", "mongo-init"):
        assert spec["depends_on"][step]["condition"] == "service_completed_successfully", step


@pytest.mark.parametrize("service", list(SETTINGS))
def test_every_variable_given_to_a_service_is_one_of_its_settings(service: str) -> None:
    given = set(environment(service)) | set(re.findall(r"\b(RELAY_[A-Z_]+)=", command_line(service)))
    unknown = given - setting_names(service)
    assert not unknown, f"{service} does not read {sorted(unknown)}"


def test_notify_replicas_each_get_their_own_replica_id() -> None:
    assert "RELAY_REPLICA_ID" not in environment("notify")  # one value would put every replica in one group
    assert "RELAY_REPLICA_ID=$(hostname)" in command_line("notify").replace("$$", "$")


@pytest.mark.parametrize(("service", "setting", "target"), [
    ("gateway", "RELAY_INGEST_URL", "ingest"), ("gateway", "RELAY_ISSUES_URL", "issues"),
    ("gateway", "RELAY_CHAT_URL", "chat"), ("gateway", "RELAY_NOTIFY_URL", "notify"),
    ("notify", "RELAY_CHAT_URL", "chat"),
])
def test_services_find_each_other_by_compose_name_and_port(service: str, setting: str, target: str) -> None:
    assert environment(service)[setting] == f"http://{target}:{environment(target)['RELAY_HTTP_PORT']}"


def test_prometheus_scrapes_every_replica_of_every_service_on_its_port() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    scraped = {(name, sd["port"]) for job in config["scrape_configs"] for sd in job.get("dns_sd_configs", [])
               for name in sd["names"]}
    assert scraped == {(service, int(environment(service)["RELAY_HTTP_PORT"])) for service in SETTINGS}
    assert "./prometheus:/etc/prometheus:ro" in SERVICES["prometheus"]["volumes"]


def test_grafana_is_provisioned_from_the_deploy_folder() -> None:
    volumes = SERVICES["grafana"]["volumes"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
    dashboards_mount = next(volume for volume in volumes if volume.startswith("./grafana/dashboards:"))
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/relay.yml").read_text())["providers"][0]
    assert provider["options"]["path"] == dashboards_mount.split(":")[1]
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (DEPLOY / "grafana/dashboards" / home.rsplit("/", 1)[1]).is_file()
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert urlsplit(datasource["datasources"][0]["url"]).hostname == "prometheus"


def test_every_file_the_compose_file_mounts_or_builds_from_exists() -> None:
    for name, spec in SERVICES.items():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}"
        if "build" in spec:
            context = (DEPLOY / spec["build"]["context"]).resolve()
            assert (context / spec["build"]["dockerfile"]).is_file(), name


def test_the_image_installs_every_package_a_service_needs() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    install = next(line for line in dockerfile.splitlines() if "pip install" in line)
    packages = [word for word in install.split() if word.startswith("./")]
    root = DEPLOY.parent
    assert "-c constraints.txt" in install
    for package in packages:
        assert (root / package / "pyproject.toml").is_file(), package
    installed = {package.rsplit("/", 1)[1] for package in packages}
    assert {"contracts", "kit", *SETTINGS} <= installed


def test_the_image_builds_the_staff_ui_from_the_lockfile_into_the_gateway() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "npm ci" in dockerfile and "package-lock.json" in dockerfile
    assert "COPY --from=ui /src/services/gateway/relay_gateway/ui services/gateway/relay_gateway/ui" in dockerfile
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert "**/node_modules" in ignored and "services/gateway/relay_gateway/ui" in ignored  # built in the image only

def test_the_one_shot_topic_step_creates_relays_topics_and_is_idempotent(kafka_bootstrap: str) -> None:
    spec = SERVICES["topics"]
    assert spec["command"][:2] == ["python", "-c"]
    brokers = spec["environment"]["KAFKA_BOOTSTRAP_SERVERS"].split(",")
    assert {broker.split(":")[0] for broker in brokers} == set(KAFKA_NODES)
    assert int(spec["environment"]["TOPIC_REPLICATION_FACTOR"]) == len(KAFKA_NODES)
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TOPIC_REPLICATION_FACTOR": "1"}
    for _ in range(2):  # the second run finds every topic there
        run = subprocess.run([sys.executable, "-c", spec["command"][2]], env=env, capture_output=True, text=True,
                             timeout=60)
        assert run.returncode == 0, run.stderr
    assert "topics ready: " + ", ".join(topic.name for topic in ALL_TOPICS) in run.stdout


async def test_the_topics_exist_with_the_partitions_the_contracts_name(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="deploy-test")
    await admin.start()
    try:
        described = await admin.describe_topics([topic.name for topic in ALL_TOPICS])
    finally:
        await admin.close()
    partitions = {topic["topic"]: len(topic["partitions"]) for topic in described}
    assert partitions == {topic.name: topic.partitions for topic in ALL_TOPICS}

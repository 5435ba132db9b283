"""The on-premises deployment files: docker-compose.yml validates with docker-compose itself (no engine
needed), every service waits for what it needs, images are pinned, and nothing listens beyond localhost."""

from __future__ import annotations

import os
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from rag.config import Settings

ROOT = Path(__file__).resolve().parent.parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
SCALE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.scale.yml").read_text(encoding="utf-8"))
SCALE_SERVICES: dict[str, Any] = SCALE["services"]
QDRANT_NODES = ("qdrant-1", "qdrant-2", "qdrant-3")
API_REPLICAS = ("api1", "api2", "api3")


@pytest.fixture
def compose_dir(tmp_path: Path) -> Path:
    for name in ("docker-compose.yml", "docker-compose.gpu.yml", "docker-compose.scale.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    return tmp_path


def _docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        if os.environ.get("RAG_REQUIRE_ALL_TESTS") == "1":
            pytest.fail("docker-compose is missing; scripts/test.sh installs Debian's docker-compose package")
        pytest.skip("Debian's docker-compose is not installed (scripts/test.sh installs it)")
    return found


@pytest.mark.parametrize(
    "files",
    [["docker-compose.yml"], ["docker-compose.yml", "docker-compose.gpu.yml"], ["docker-compose.scale.yml"]],
)
def test_compose_file_validates(compose_dir: Path, files: list[str]) -> None:
    args = [_docker_compose()]
    for name in files:
        args += ["-f", name]
    done = subprocess.run(
        [*args, "config", "-q"], cwd=compose_dir, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_every_service_has_a_healthcheck_or_waits_on_a_condition() -> None:
    for name, service in SERVICES.items():
        waits = all(
            isinstance(dep, dict) and "condition" in dep for dep in (service.get("depends_on") or {}).values()
        )
        assert "healthcheck" in service or (service.get("depends_on") and waits), name
    api = SERVICES["api"]["depends_on"]
    assert api["qdrant"]["condition"] == "service_healthy"
    assert api["ollama-pull"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("services", [SERVICES, SCALE_SERVICES], ids=["single", "scale"])
def test_images_are_pinned(services: dict[str, Any]) -> None:
    for name, service in services.items():
        image = service["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        assert tag and tag != "latest", f"{name} uses an unpinned image {image}"


def _qdrant_images() -> set[str]:
    return {
        service["image"]
        for services in (SERVICES, SCALE_SERVICES)
        for service in services.values()
        if service["image"].startswith("qdrant/qdrant:")
    }


def test_the_pinned_qdrant_server_is_one_the_installed_client_accepts() -> None:
    """qdrant-client warns at start-up ("incompatible with server version") and may send requests the
    server does not know when the minor versions are more than one apart; the compose files must pin a
    server our client was built for, and both files the same one."""
    images = _qdrant_images()
    assert len(images) == 1, f"the two compose files pin different servers: {images}"
    server = images.pop().rsplit(":v", 1)[1]
    client = metadata.version("qdrant-client")
    server_major, server_minor = (int(part) for part in server.split(".")[:2])
    client_major, client_minor = (int(part) for part in client.split(".")[:2])
    assert server_major == client_major and abs(server_minor - client_minor) <= 1, (server, client)


def test_the_docker_tests_run_the_server_compose_pins() -> None:
    (image,) = _qdrant_images()
    for test in ("deploy/test_qdrant_cluster.py", "rag/store/test_contract.py", "ingest/test_workers.py"):
        assert f'"{image}"' in (ROOT / "tests" / test).read_text(encoding="utf-8"), test
    rest_server = (ROOT / "tests" / "support" / "qdrant_rest.py").read_text(encoding="utf-8")
    assert f'SERVER_VERSION = "{image.rsplit(":v", 1)[1]}"' in rest_server


@pytest.mark.parametrize("services", [SERVICES, SCALE_SERVICES], ids=["single", "scale"])
def test_no_port_is_published_beyond_localhost(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_models_are_pulled_and_the_api_watches_the_inbox() -> None:
    pull = " ".join(SERVICES["ollama-pull"]["entrypoint"])
    assert "nomic-embed-text" in pull and "qwen2.5:14b" in pull
    assert SERVICES["api"]["command"] == ["serve", "--watch", "/inbox"]
    assert "./inbox:/inbox" in SERVICES["api"]["volumes"]


def test_env_example_documents_every_setting() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"RAG_{name.upper()}=" in text, f"RAG_{name.upper()} is missing from .env.example"


# -- docker-compose.scale.yml ------------------------------------------------------------------


def _resolved_scale(compose_dir: Path) -> dict[str, Any]:
    """The scale file as docker-compose resolves it (anchors merged, .env interpolated)."""
    done = subprocess.run(
        [_docker_compose(), "-f", "docker-compose.scale.yml", "config"],
        cwd=compose_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    services: dict[str, Any] = yaml.safe_load(done.stdout)["services"]
    return services


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """target -> source of a resolved service's volumes (docker-compose v1 prints `source:target:mode`)."""
    parts = [str(volume).split(":") for volume in service.get("volumes", [])]
    return {part[1]: part[0] for part in parts}


def test_scale_every_service_is_health_checked_or_waits_on_a_condition(compose_dir: Path) -> None:
    services = _resolved_scale(compose_dir)
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        waits = bool(depends) and all(isinstance(d, dict) and "condition" in d for d in depends.values())
        assert "healthcheck" in service or waits, name
    for name in (*API_REPLICAS, "worker", "scanner"):
        conditions = {dep: how["condition"] for dep, how in services[name]["depends_on"].items()}
        assert conditions == {
            "postgres": "service_healthy",
            **dict.fromkeys(QDRANT_NODES, "service_healthy"),
            "ollama-pull": "service_completed_successfully",
        }, name


def test_scale_qdrant_is_a_three_node_cluster_the_store_reaches_on_every_node(compose_dir: Path) -> None:
    services = _resolved_scale(compose_dir)
    founder = services["qdrant-1"]["command"]
    assert founder == ["./qdrant", "--uri", "http://qdrant-1:6335"]
    for node in QDRANT_NODES:
        assert services[node]["environment"]["QDRANT__CLUSTER__ENABLED"] == "true"
        assert "/readyz" in " ".join(services[node]["healthcheck"]["test"])
        assert not services[node].get("ports"), f"{node} publishes a port (6335 takes writes unauthenticated)"
    for node in QDRANT_NODES[1:]:
        command = services[node]["command"]
        assert command[command.index("--bootstrap") + 1] == "http://qdrant-1:6335"
        assert command[command.index("--uri") + 1] == f"http://{node}:6335"
        assert services[node]["depends_on"]["qdrant-1"]["condition"] == "service_healthy"
    storage = {_mounts(services[node])["/qdrant/storage"] for node in QDRANT_NODES}
    assert storage == set(QDRANT_NODES), "each node needs its own storage"


def test_scale_settings_are_valid_and_survive_a_node_down(compose_dir: Path) -> None:
    """The RAG_ environment the API replicas, workers and scanner get is a valid Settings, with every
    Qdrant node listed and every shard on two of them."""
    services = _resolved_scale(compose_dir)
    environments = [services[name]["environment"] for name in (*API_REPLICAS, "worker", "scanner")]
    assert all(env == environments[0] for env in environments)
    env = {k[4:].lower(): v for k, v in environments[0].items() if k.startswith("RAG_")}
    settings = Settings(_env_file=None, **env)  # type: ignore[call-arg]
    assert settings.qdrant_urls == [f"http://{node}:6333" for node in QDRANT_NODES]
    assert settings.qdrant_replication_factor == 2
    assert settings.qdrant_write_consistency_factor == 1  # writes go on while one copy's node is down
    assert settings.qdrant_shard_number is not None and settings.qdrant_shard_number % 3 == 0
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value().startswith(
        "postgresql://rag:change-me-too@postgres:5432/"
    )
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "change-me-too"


def test_scale_haproxy_routes_to_the_api_replicas_with_the_shipped_config(compose_dir: Path) -> None:
    services = _resolved_scale(compose_dir)
    haproxy = services["haproxy"]
    config_mount = str(compose_dir / "deploy" / "haproxy.cfg") + ":/usr/local/etc/haproxy/haproxy.cfg:ro"
    assert haproxy["volumes"] == [config_mount]
    config = (ROOT / "deploy" / "haproxy.cfg").read_text(encoding="utf-8")
    for index, replica in enumerate(API_REPLICAS, start=1):
        assert f"server {replica} " in config
        assert haproxy["environment"][f"LB_API{index}"] == f"{replica}:8000"
        assert services[replica]["command"] == ["serve"]
        assert "/health" in " ".join(services[replica]["healthcheck"]["test"])
        assert not services[replica].get("ports"), "clients reach the replicas through haproxy only"
    assert haproxy["environment"]["LB_HEALTH_KEY"] == "change-me-to-a-long-random-key"
    assert [str(port) for port in haproxy["ports"]] == ["127.0.0.1:8000:8000/tcp"]


def test_scale_workers_and_the_scanner_share_the_files_with_the_api(compose_dir: Path) -> None:
    services = _resolved_scale(compose_dir)
    worker, scanner = services["worker"], services["scanner"]
    assert worker["command"] == ["worker"] and worker["deploy"]["replicas"] >= 2
    assert "rag scan /inbox" in " ".join(scanner["entrypoint"])
    mounts = {name: _mounts(services[name]) for name in (*API_REPLICAS, "worker", "scanner")}
    assert all(found == mounts["api1"] for found in mounts.values()), mounts
    assert mounts["api1"]["/data"] == "rag-data"  # uploads a replica stores, a worker reads
    assert mounts["api1"]["/inbox"] == str(compose_dir / "inbox")

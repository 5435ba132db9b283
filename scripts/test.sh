#!/usr/bin/env bash
# Install what the tests need, then lint, type-check and run the whole suite, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
# Debian's docker-compose (v1) validates docker-compose.yml without a Docker engine.
if ! command -v docker-compose >/dev/null 2>&1; then
    if [[ $(id -u) == 0 ]]; then
        (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker-compose) >/dev/null
    else
        echo "docker-compose is missing: sudo apt-get install docker-compose (the compose tests need it)" >&2
    fi
fi
# A real OpenLDAP server for the LDAP group tests (tests/support/slapd.py starts its own on a free port).
if ! command -v slapd >/dev/null 2>&1 && [[ ! -x /usr/sbin/slapd ]]; then
    if [[ $(id -u) == 0 ]]; then
        (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slapd ldap-utils) >/dev/null
        # The package's postinst may start a system slapd on port 389; the tests never use it.
        service slapd stop >/dev/null 2>&1 || true
    else
        echo "slapd is missing: sudo apt-get install slapd ldap-utils (the LDAP group tests need it)" >&2
    fi
fi
# A real haproxy in front of three `rag serve` replicas (tests/deploy/test_replicas.py, deploy/haproxy.cfg).
if ! command -v haproxy >/dev/null 2>&1 && [[ ! -x /usr/sbin/haproxy ]]; then
    if [[ $(id -u) == 0 ]]; then
        (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends haproxy) >/dev/null
        # The package's postinst may start a system haproxy (its own /etc config); the tests start their own.
        service haproxy stop >/dev/null 2>&1 || true
    else
        echo "haproxy is missing: sudo apt-get install haproxy (the replica tests need it)" >&2
    fi
fi
export HF_HUB_OFFLINE=1 DO_NOT_TRACK=1 TOKENIZERS_PARALLELISM=false RAG_REQUIRE_ALL_TESTS=1
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache  # api -> ingest -> rag, no frameworks in the core (pyproject.toml)
.venv/bin/python -m pytest "$@"

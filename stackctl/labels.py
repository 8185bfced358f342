"""Every label key stackctl puts on containers, networks and volumes.

The docker compose keys are reused on purpose so that `docker compose ps` and stackctl see the same
projects; stackctl's own keys live under ``io.stackctl.``.
"""

from __future__ import annotations

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
CONTAINER_NUMBER = "com.docker.compose.container-number"
ONEOFF = "com.docker.compose.oneoff"
CONFIG_HASH = "com.docker.compose.config-hash"
NETWORK = "com.docker.compose.network"
VOLUME = "com.docker.compose.volume"
WORKING_DIR = "com.docker.compose.project.working_dir"
CONFIG_FILES = "com.docker.compose.project.config_files"
DEPENDS_ON = "com.docker.compose.depends_on"
VERSION = "com.docker.compose.version"
IMAGE = "com.docker.compose.image"
REPLACE = "com.docker.compose.replace"
SLUG = "com.docker.compose.slug"
ENVIRONMENT_FILE = "com.docker.compose.project.environment_file"

MANAGED_BY = "io.stackctl.managed-by"
STACK = "io.stackctl.stack"
TASK = "io.stackctl.task"
LEADER_REVISION = "io.stackctl.leader-rev"

# the cluster's containers (stackctl/cluster/naming.py); STACK, TASK and LEADER_REVISION above too
STACK_SERVICE = "io.stackctl.service"
SLOT = "io.stackctl.slot"
SPEC_HASH = "io.stackctl.spec-hash"
STACK_NAMESPACE = "com.docker.stack.namespace"  # what docker swarm puts on a stack's containers

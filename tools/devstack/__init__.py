"""The one stack launcher: each service's command in its own environment, started, stopped and
restarted as a process with its log; free ports and readiness waits. Used by `make run`, the
end-to-end and fault tests and the benchmarks. Development tooling, not product code."""

from tools.devstack.environments import ENVIRONMENTS, ROOT, Environment
from tools.devstack.launcher import SERVICES, Launcher
from tools.devstack.process import Process, ServiceProcess, free_port, service_command, wait_ready, wait_until

__all__ = [
    "ENVIRONMENTS",
    "ROOT",
    "SERVICES",
    "Environment",
    "Launcher",
    "Process",
    "ServiceProcess",
    "free_port",
    "service_command",
    "wait_ready",
    "wait_until",
]

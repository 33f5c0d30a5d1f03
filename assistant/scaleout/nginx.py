"""nginx in front of the Rasa instances (users' traffic) and the action servers (Rasa's
action calls), rendered from nginx.conf.template for the ports in the settings."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path
from string import Template

from assistant.servers import ServerProcess, ServerStartError
from assistant.settings import RuntimeSettings

TEMPLATE = Path(__file__).with_name("nginx.conf.template")


class _ConfigTemplate(Template):
    delimiter = "%"  # nginx's own variables start with "$"


def _servers(host: str, ports: list[int]) -> str:
    return "\n".join(f"        server {host}:{p} max_fails=1 fail_timeout=3s;" for p in ports)


def render_config(settings: RuntimeSettings, run_dir: Path) -> str:
    # Under root nginx would hand requests to workers running as "nobody", who cannot reach
    # a private checkout; the workers then run as the invoking user instead.
    user = pwd.getpwuid(os.geteuid()).pw_name
    return _ConfigTemplate(TEMPLATE.read_text()).substitute(
        user_directive=f"user {user};" if os.geteuid() == 0 else "",
        run_dir=run_dir, log_dir=settings.log_dir, host=settings.host,
        front_port=settings.rasa_port, action_port=settings.action_port,
        rasa_servers=_servers(settings.host, settings.scale.rasa_ports()),
        action_servers=_servers(settings.host, settings.scale.action_ports()),
    )


def nginx_balancer(settings: RuntimeSettings) -> ServerProcess:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                       else None)
    if binary is None:
        raise ServerStartError("nginx is not installed: run `bash assistant/scripts/bootstrap.sh "
                               "services`")
    run_dir = settings.scaled_dir / "nginx"
    conf = run_dir / "nginx.conf"

    def write_config() -> None:
        run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        settings.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        conf.write_text(render_config(settings, run_dir))

    return ServerProcess(
        name="nginx", cmd=[binary, "-p", str(run_dir), "-c", str(conf), "-e", "stderr"],
        health_url=f"{settings.rasa_url}/nginx/ready", log_path=settings.log_dir / "nginx.log",
        ports={settings.rasa_port: "RASA_PORT", settings.action_port: "ACTION_PORT"},
        bind_host=settings.host, prepare=write_config,
    )

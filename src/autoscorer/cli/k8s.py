"""``autoscorer k8s``: what a cluster needs for the Kubernetes executor."""

from __future__ import annotations

import typer

k8s_app = typer.Typer(help="Kubernetes executor helpers.", no_args_is_help=True)


@k8s_app.command("rbac")
def rbac_cmd(
    namespace: str = typer.Option("autoscorer", help="Namespace of the worker and its Jobs."),
    service_account: str = typer.Option("autoscorer-worker", help="The worker's account."),
) -> None:
    """Print the ServiceAccount, Role and RoleBinding the worker needs (deploy/k8s/rbac.yaml)."""
    from autoscorer.executors.k8s_rbac import rbac_yaml

    typer.echo(rbac_yaml(namespace, service_account), nl=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(k8s_app, name="k8s")

"""The `salesgraph` command."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
import click
from sqlalchemy.exc import DBAPIError

from salesgraph.db import migrations
from salesgraph.db.engine import create_database
from salesgraph.db.roles import check_server_role
from salesgraph.db.unit_of_work import unit_of_work
from salesgraph.errors import DomainError, DomainErrors
from salesgraph.settings import ConfigurationError, Settings, load_settings
from salesgraph.workspaces import service as workspace_service
from salesgraph.workspaces.models import Scope

T = TypeVar("T")


def resolve_database_url(settings: Settings) -> str:
    """The configured database, or the embedded server (started if needed)."""
    if settings.database_url is not None:
        return settings.database_url
    from salesgraph.db.embedded import start_embedded_server

    return start_embedded_server(settings.data_dir)


def _fail(message: str) -> None:
    click.echo(f"salesgraph: {message}", err=True)
    sys.exit(2)


def _run(database_url: str, work: Callable[..., Awaitable[T]]) -> T:
    """Run `work(session)` in one unscoped transaction on a short-lived engine, as the owner:
    the command line works across workspaces (row-level security lets the owner do so when it
    asks, see salesgraph.db.tenancy)."""

    async def main() -> T:
        database = create_database(database_url, pool_size=1, max_overflow=0, all_workspaces=True)
        try:
            async with unit_of_work(database, workspace_id=None) as session:
                return await work(session)
        finally:
            await database.dispose()

    try:
        return asyncio.run(main())
    except DomainErrors as errors:
        _fail("; ".join(f"{'.'.join(e.field or ())}: {e.message}" for e in errors.errors))
    except DomainError as error:
        _fail(f"{'.'.join(error.field or ())}: {error.message}" if error.field else error.message)
    raise AssertionError("unreachable")


class _Context:
    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._url: str | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def database_url(self, *, migrate: bool = True) -> str:
        if self._url is None:
            self._url = resolve_database_url(self.settings)
            if migrate:
                migrations.upgrade(self._url)
        return self._url


pass_context = click.make_pass_decorator(_Context, ensure=True)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigurationError as error:
            _fail(str(error))
        except (OSError, DBAPIError, asyncpg.PostgresError) as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            _fail(f"database error: {reason}")
        raise AssertionError("unreachable")


@click.group(cls=_Group)
@click.version_option(package_name="salesgraph")
def main() -> None:
    """salesgraph: a headless GraphQL backend for a company's sales process."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--demo", is_flag=True, help="Seed the demo workspace if missing; print its key.")
@pass_context
def serve(context: _Context, host: str, port: int, demo: bool) -> None:
    """Migrate the database, then serve GraphQL at /graphql.

    SIGTERM or Ctrl-C stops accepting connections and lets in-flight requests finish (for at
    most SALESGRAPH_SHUTDOWN_TIMEOUT seconds) before the process exits.
    """
    import uvicorn

    from salesgraph.app import create_app
    from salesgraph.observability import configure_logging

    started = time.monotonic()
    settings = context.settings
    configure_logging(settings.log_level, settings.log_format)
    url = context.database_url()
    check_server_role(context.settings, url)
    if demo:
        from salesgraph import demo as demo_data

        token = _run(url, lambda session: demo_data.ensure_demo_workspace(session))
        click.echo(f"Demo workspace ready. Admin API key (shown once): {token}")
    app = create_app(settings, url)
    # Everything built so far lives as long as the process: move it out of the collector's
    # reach, so that full collections scan only what requests allocate (shorter pauses).
    gc.collect()
    gc.freeze()
    elapsed = time.monotonic() - started
    if settings.log_format == "json":
        logger = logging.getLogger("salesgraph")
        logger.info("salesgraph ready in %.1fs", elapsed, extra={"host": host, "port": port})
    else:
        click.echo(f"salesgraph ready in {elapsed:.1f}s: open http://{host}:{port}/graphql")
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,  # configure_logging above already routes uvicorn's loggers
        log_level=settings.log_level.lower(),
        access_log=not settings.access_log,  # ours has the operation, outcome and workspace
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )


@main.command()
@pass_context
def migrate(context: _Context) -> None:
    """Upgrade the database to the latest revision."""
    as_json = context.settings.log_format == "json"  # e.g. in the container: JSON lines only
    if as_json:
        from salesgraph.observability import configure_logging

        configure_logging(context.settings.log_level, "json")
    context.database_url(migrate=True)
    if as_json:
        logging.getLogger("salesgraph").info("database at revision %s", migrations.head_revision())
    else:
        click.echo(f"database at revision {migrations.head_revision()}")


@main.group()
def workspace() -> None:
    """Manage workspaces."""


@workspace.command("create")
@click.argument("name")
@click.option("--admin-email", required=True, help="Email of the first admin member.")
@click.option("--json", "as_json", is_flag=True, help="Print {workspace_id, api_key} as JSON.")
@pass_context
def workspace_create(context: _Context, name: str, admin_email: str, as_json: bool) -> None:
    """Create a workspace, its admin member and an admin API key."""

    async def work(session: object) -> tuple[uuid.UUID, str]:
        created, _, key = await workspace_service.create_workspace(
            session,  # type: ignore[arg-type]
            name=name,
            admin_email=admin_email,
        )
        return created.id, key.token

    workspace_id, token = _run(context.database_url(), work)
    if as_json:
        click.echo(json.dumps({"workspace_id": str(workspace_id), "api_key": token}))
    else:
        click.echo(f"workspace {workspace_id}\nadmin API key (shown once): {token}")


@main.group("api-key")
def api_key() -> None:
    """Manage API keys."""


def _parse_scopes(value: str) -> list[Scope]:
    try:
        return [Scope(part.strip()) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter("scopes are read, write and admin, comma-separated") from None


@api_key.command("create")
@click.option("--workspace", "workspace_id", required=True, type=click.UUID, help="Workspace id.")
@click.option("--scopes", required=True, help="Comma-separated: read, write, admin.")
@click.option("--name", default="api key", show_default=True, help="What the key is for.")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), help="Expire after N days.")
@click.option("--json", "as_json", is_flag=True, help="Print {key_id, api_key} as JSON.")
@pass_context
def api_key_create(
    context: _Context,
    workspace_id: uuid.UUID,
    scopes: str,
    name: str,
    expires_in_days: int | None,
    as_json: bool,
) -> None:
    """Create an API key; its token is printed once and never stored."""
    from datetime import UTC, datetime, timedelta

    parsed = _parse_scopes(scopes)
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None

    async def work(session: object) -> workspace_service.CreatedApiKey:
        return await workspace_service.create_api_key(
            session,  # type: ignore[arg-type]
            workspace_id=workspace_id,
            name=name,
            scopes=parsed,
            expires_at=expires_at,
        )

    created = _run(context.database_url(), work)
    if as_json:
        click.echo(json.dumps({"key_id": str(created.key.id), "api_key": created.token}))
    else:
        click.echo(f"key {created.key.id}\nAPI key (shown once): {created.token}")


@api_key.command("revoke")
@click.argument("key_id", type=click.UUID)
@pass_context
def api_key_revoke(context: _Context, key_id: uuid.UUID) -> None:
    """Revoke an API key; requests with it fail from now on."""

    async def work(session: object) -> None:
        await workspace_service.revoke_api_key(session, key_id=key_id)  # type: ignore[arg-type]

    _run(context.database_url(), work)
    click.echo(f"revoked {key_id}")


@main.command("seed-demo")
@click.option(
    "--leads",
    "lead_count",
    default=300,
    show_default=True,
    type=click.IntRange(0, 1_000_000),
    help="Leads to create, each with its history.",
)
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed.")
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]),
    help="When the histories end, in UTC  [default: the start of the current UTC day]",
)
@click.option(
    "--days",
    default=730,
    show_default=True,
    type=click.IntRange(1, 3650),
    help="Days of history before --until that leads are created in.",
)
@click.option("--reps", type=click.IntRange(2, 300), help="Sales reps  [default: by --leads]")
@click.option("--reopen-share", type=click.FloatRange(0, 1), help="Lost leads later reopened.")
@click.option(
    "--handoff-share",
    type=click.FloatRange(0, 1),
    help="Inside sales leads handed to field sales at the presentation.",
)
@click.option(
    "--duration-scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.01, 100),
    help="Multiplies every stage's mean days.",
)
@click.option(
    "--activity-scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 100),
    help="Multiplies every stage's activities per visit.",
)
@click.option("--events", is_flag=True, help="Also write domain events (lead timelines).")
@click.option(
    "--chunk-size",
    default=50_000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Leads built and copied at a time.",
)
@pass_context
def seed_demo(
    context: _Context,
    lead_count: int,
    seed: int,
    until: datetime | None,
    days: int,
    reps: int | None,
    reopen_share: float | None,
    handoff_share: float | None,
    duration_scale: float,
    activity_scale: float,
    events: bool,
    chunk_size: int,
) -> None:
    """Create a demo workspace with deterministic sales histories; print its admin key.

    The same --seed and --until give the same rows. The parameters the histories are drawn from
    (stage advance/back/lost probabilities, mean days, activities per visit, ...) are printed
    first, then progress, row counts and timings. Rows are built and written with COPY in
    chunks of --chunk-size leads (memory stays bounded), in one transaction. Domain events are
    not written unless --events is given (at scale they would be the largest table): without
    them, lead timelines are empty.
    """
    from salesgraph import demo as demo_data

    try:
        shape = demo_data.DemoShape().tuned(
            days=duration_scale,
            activities=activity_scale,
            reopen_share=reopen_share,
            handoff_share=handoff_share,
        )
        plan = demo_data.DemoPlan(
            leads=lead_count,
            seed=seed,
            until=until.replace(tzinfo=UTC) if until else demo_data.start_of_utc_day(),
            days=days,
            reps=reps,
            shape=shape,
            events=events,
            chunk_size=chunk_size,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    for line in plan.describe():
        click.echo(line)

    def progress(done: int, seconds: float) -> None:
        click.echo(f"  {done:,} of {plan.leads:,} leads written ({seconds:.1f}s)")

    async def work(session: object) -> demo_data.SeedReport:
        return await demo_data.seed_demo(session, plan, progress=progress)  # type: ignore[arg-type]

    report = _run(context.database_url(), work)
    for line in report.describe():
        click.echo(line)
    click.echo(f"demo workspace {report.workspace_id}\nadmin API key (shown once): {report.token}")


@main.command("export-schema")
def export_schema() -> None:
    """Print the GraphQL schema (SDL); this is what schema.graphql holds."""
    from salesgraph.graphql.schema import export_sdl

    click.echo(export_sdl(), nl=False)


@main.group("reporting-role")
def reporting_role() -> None:
    """Manage read-only database roles for BI tools: each reads one workspace's rows in the
    `reporting` views (docs/reporting.md)."""


@reporting_role.command("create")
@click.option("--workspace", "workspace_id", required=True, type=click.UUID, help="Workspace id.")
@click.option("--name", required=True, help="The role's name: lower-case letters, digits, _.")
@click.option("--password", help="Its password; by default one is generated and printed once.")
@click.option(
    "--statement-timeout",
    default=60,
    show_default=True,
    type=click.IntRange(1, 86_400),
    help="Seconds a statement may run before the server cancels it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print {role, workspace_id, url} as JSON.")
@pass_context
def reporting_role_create(
    context: _Context,
    workspace_id: uuid.UUID,
    name: str,
    password: str | None,
    statement_timeout: int,
    as_json: bool,
) -> None:
    """Create a login role that reads one workspace's rows in the reporting views."""
    from salesgraph.reporting import roles as reporting_roles

    generated = password is None
    secret = reporting_roles.generate_password() if password is None else password

    async def work(session: object) -> reporting_roles.Reader:
        return await reporting_roles.create_reader(
            session,  # type: ignore[arg-type]
            workspace_id=workspace_id,
            name=name,
            password=secret,
            statement_timeout_seconds=statement_timeout,
        )

    database_url = context.database_url()
    reader = _run(database_url, work)
    # A password the user chose is theirs to keep: it is printed only when it was generated.
    url = reporting_roles.connection_url(database_url, reader.name, secret if generated else None)
    if as_json:
        output = {"role": reader.name, "workspace_id": str(reader.workspace_id), "url": url}
        click.echo(json.dumps({**output, "password": secret} if generated else output))
        return
    click.echo(f"reporting role {reader.name} reads workspace {reader.workspace_id}")
    if generated:
        click.echo(f"password (shown once): {secret}")
        click.echo(f"connect: {url}")
    else:
        click.echo(f"connect: {url} (with the password given)")


@reporting_role.command("drop")
@click.option("--name", required=True, help="The reporting role to drop.")
@pass_context
def reporting_role_drop(context: _Context, name: str) -> None:
    """Drop a reporting role: its open sessions are refused from their next statement on."""
    from salesgraph.reporting import roles as reporting_roles

    async def work(session: object) -> None:
        await reporting_roles.drop_reader(session, name=name)  # type: ignore[arg-type]

    _run(context.database_url(), work)
    click.echo(f"dropped {name}")


@reporting_role.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_context
def reporting_role_list(context: _Context, as_json: bool) -> None:
    """List the reporting roles and their workspaces."""
    from salesgraph.reporting import roles as reporting_roles

    async def work(session: object) -> list[reporting_roles.Reader]:
        return await reporting_roles.list_readers(session)  # type: ignore[arg-type]

    readers = _run(context.database_url(), work)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "role": reader.name,
                        "workspace_id": str(reader.workspace_id),
                        "workspace_name": reader.workspace_name,
                        "created_at": reader.created_at.isoformat(),
                        "role_exists": reader.role_exists,
                    }
                    for reader in readers
                ]
            )
        )
        return
    for reader in readers:
        missing = "" if reader.role_exists else "  (role missing: drop it)"
        click.echo(
            f"{reader.name}\t{reader.workspace_id}\t{reader.workspace_name}"
            f"\t{reader.created_at:%Y-%m-%d %H:%M}{missing}"
        )

"""The embedded PostgreSQL used when no database URL is configured.

With the `pgserver` wheel installed (CPython <= 3.12) its bundled server binaries run a cluster
in the data folder, listening only on a Unix socket. Without it, `initdb` and `pg_ctl` from the
PATH (or from `pg_config --bindir`) do the same. The server is stopped when the last salesgraph
process using it exits.
"""

from __future__ import annotations

import atexit
import contextlib
import getpass
import importlib.util
import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path
from urllib.parse import quote

from salesgraph.settings import ConfigurationError

DATABASE_NAME = "salesgraph"
INSTALL_HINT = (
    "no embedded PostgreSQL: install the pgserver wheel (CPython <= 3.12), put PostgreSQL's "
    "initdb and pg_ctl on the PATH, or set SALESGRAPH_DATABASE_URL"
)


def start_embedded_server(data_dir: Path) -> str:
    """Start (or attach to) the embedded server in `data_dir`; return a postgresql:// URL."""
    data_dir = data_dir.expanduser().resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigurationError(
            f"cannot create the embedded database folder {data_dir} ({error.strerror}): "
            "set SALESGRAPH_DATA_DIR to a writable folder, or SALESGRAPH_DATABASE_URL"
        ) from None
    if importlib.util.find_spec("pgserver") is not None:
        socket_dir, user = _start_with_pgserver(data_dir / "pgdata")
    else:
        socket_dir, user = _start_with_path_binaries(data_dir / "pgdata")
    _ensure_database(socket_dir, user)
    return f"postgresql://{quote(user)}@/{DATABASE_NAME}?host={quote(str(socket_dir))}"


def _start_with_pgserver(pgdata: Path) -> tuple[Path, str]:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver then uses /tmp, which is fine.
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    server = get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    return Path(info.socket_dir), "postgres"


def _find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = subprocess.run(  # noqa: S603 - a fixed executable found on the PATH
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        candidate = Path(bindir) / name
        if candidate.exists():
            return str(candidate)
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


def _start_with_path_binaries(pgdata: Path) -> tuple[Path, str]:
    initdb, pg_ctl = _find_binary("initdb"), _find_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise ConfigurationError(INSTALL_HINT)
    if os.name == "posix" and os.geteuid() == 0:
        raise ConfigurationError(
            "the embedded PostgreSQL cannot run as root without the pgserver wheel: "
            "run as another user or set SALESGRAPH_DATABASE_URL"
        )
    user = getpass.getuser()
    if not (pgdata / "PG_VERSION").exists():
        subprocess.run(  # noqa: S603 - binaries found above, arguments are ours
            [initdb, "-D", str(pgdata), "--auth=trust", "-U", user, "--encoding=UTF8"],
            check=True,
            capture_output=True,
        )
    socket_dir = pgdata if len(str(pgdata)) < 90 else Path(tempfile.mkdtemp(prefix="sg-pg-"))
    status = subprocess.run(  # noqa: S603
        [pg_ctl, "-D", str(pgdata), "status"], capture_output=True, check=False
    )
    if status.returncode != 0:
        subprocess.run(  # noqa: S603
            [
                pg_ctl,
                "-D",
                str(pgdata),
                "-w",
                "-l",
                str(pgdata / "server.log"),
                "-o",
                f"-h '' -k {socket_dir}",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        atexit.register(_stop, pg_ctl, pgdata)
    return socket_dir, user


def _stop(pg_ctl: str, pgdata: Path) -> None:
    with contextlib.suppress(Exception):
        subprocess.run(  # noqa: S603
            [pg_ctl, "-D", str(pgdata), "-m", "fast", "stop"], capture_output=True, check=False
        )


def _ensure_database(socket_dir: Path, user: str) -> None:
    """Create the salesgraph database on first start (the cluster only has `postgres`)."""
    import asyncio

    import asyncpg

    async def create() -> None:
        connection = await asyncpg.connect(host=str(socket_dir), user=user, database="postgres")
        try:
            exists = await connection.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", DATABASE_NAME
            )
            if not exists:
                await connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        finally:
            await connection.close()

    asyncio.run(create())

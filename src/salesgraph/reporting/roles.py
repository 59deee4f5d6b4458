"""Reader roles: PostgreSQL logins that see one workspace's rows in the `reporting` views.

A BI tool that speaks SQL connects as a reader. A reader is a LOGIN role that is a member of
`salesgraph_reporting` (which may read the views and nothing else, migration 0006) and has a
row in `reporting.readers` naming its workspace; every view returns the rows of that workspace
only. Readers cannot create roles, databases or bypass row-level security, and they start each
session read-only with a statement timeout. Those two settings are defaults a client can change;
what keeps a reader from writing is that it holds no privilege but SELECT on the views.

Roles belong to the whole server, so creating and dropping one happen in the command line's
transaction together with its row in reporting.readers: both or neither. Run as the owner that
migrated the database (it needs CREATEROLE, or to be a superuser).

The password is sent as a SCRAM-SHA-256 verifier computed here, as psql's \\password does: the
clear text never reaches the server, its logs or pg_stat_activity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.errors import DomainError, ErrorCode, not_found, validation

READER_GROUP: Final = "salesgraph_reporting"
# Lower-case letters, digits and underscores: a name that needs no quoting in SQL or in a URL.
# PostgreSQL reserves the pg_ prefix and a few names.
NAME_PATTERN: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
RESERVED_NAMES: Final = frozenset(
    {"public", "none", "current_user", "current_role", "session_user"}
)
MIN_PASSWORD_LENGTH: Final = 12
DEFAULT_STATEMENT_TIMEOUT_SECONDS: Final = 60
SCRAM_ITERATIONS: Final = 4096  # PostgreSQL's default (scram_iterations)
INSUFFICIENT_PRIVILEGE: Final = "42501"


@dataclass(frozen=True, slots=True)
class Reader:
    """A registered reader: its role, its workspace, and whether the role still exists."""

    name: str
    workspace_id: uuid.UUID
    workspace_name: str
    created_at: datetime
    role_exists: bool


def check_name(name: str) -> None:
    """Refuse a role name that is not a plain lower-case identifier or that PostgreSQL reserves."""
    if not NAME_PATTERN.fullmatch(name):
        raise validation(
            "must be 1 to 63 lower-case letters, digits or underscores, not starting with a digit",
            "name",
        )
    if name.startswith("pg_") or name in RESERVED_NAMES:
        raise validation(f"{name!r} is reserved by PostgreSQL", "name")


def check_password(password: str) -> None:
    """Refuse a short password, or one outside printable ASCII (whose SCRAM normalisation
    PostgreSQL and this module could disagree on)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise validation(f"must be at least {MIN_PASSWORD_LENGTH} characters", "password")
    if not all(" " <= character <= "~" for character in password):
        raise validation("must be printable ASCII", "password")


def generate_password() -> str:
    """A random password of 32 URL-safe characters (192 bits)."""
    return secrets.token_urlsafe(24)


def scram_verifier(
    password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS
) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802, RFC 7677)."""
    salt = secrets.token_bytes(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def connection_url(database_url: str, name: str, password: str | None) -> str:
    """The database's URL with the reader's name (and password, when given) as its user."""
    url = make_url(database_url).set(drivername="postgresql", username=name, password=password)
    return url.render_as_string(hide_password=False)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def _role_exists(session: AsyncSession, name: str) -> bool:
    found = await session.scalar(
        text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": name}
    )
    return found is not None


def _permission_problem(error: DBAPIError, owner: str | None) -> DomainError | None:
    """The owner's missing privilege, explained, or None for another failure."""
    if getattr(error.orig, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
        return None
    return DomainError(
        ErrorCode.FORBIDDEN,
        f"the database user {owner} may not create or drop reader roles: as a superuser, "
        f"ALTER ROLE {owner} CREATEROLE; and GRANT {READER_GROUP} TO {owner} WITH ADMIN OPTION;",
    )


async def create_reader(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    name: str,
    password: str,
    statement_timeout_seconds: int = DEFAULT_STATEMENT_TIMEOUT_SECONDS,
) -> Reader:
    """Create the login role `name` reading `workspace_id`'s rows in the reporting views.

    Refuses a name that is taken by any role of the server (roles are server-wide; reusing one
    would hand its existing privileges over), and a workspace that does not exist.
    """
    check_name(name)
    check_password(password)
    if statement_timeout_seconds < 1:
        raise validation("must be at least 1 second", "statementTimeout")
    workspace_name = await session.scalar(
        text("SELECT name FROM workspaces WHERE id = :id"), {"id": workspace_id}
    )
    if workspace_name is None:
        raise not_found("workspace", "workspaceId")
    if await _role_exists(session, name):
        raise DomainError(ErrorCode.DUPLICATE, f"a role named {name} exists already", "name")
    stale = await session.scalar(
        text("SELECT 1 FROM reporting.readers WHERE role_name = :name"), {"name": name}
    )
    if stale is not None:  # its role was dropped by hand
        raise DomainError(
            ErrorCode.DUPLICATE,
            f"{name} is registered already, without its role: drop it first",
            "name",
        )
    role = f'"{name}"'  # a checked plain identifier: quoting keeps keywords (e.g. "user") valid
    statements = [
        f"CREATE ROLE {role} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
        f" NOBYPASSRLS PASSWORD {_literal(scram_verifier(password))} IN ROLE {READER_GROUP}",
        f"ALTER ROLE {role} SET default_transaction_read_only = on",
        f"ALTER ROLE {role} SET statement_timeout = '{int(statement_timeout_seconds)}s'",
    ]
    owner = await session.scalar(text("SELECT current_user"))
    connection = await session.connection()
    try:
        for statement in statements:
            # Sent as it is: utility statements take no parameters, and the verifier's colons
            # must not be read as bind parameters.
            await connection.exec_driver_sql(statement)
    except DBAPIError as error:
        problem = _permission_problem(error, owner)
        if problem is not None:
            raise problem from None
        raise
    created_at = await session.scalar(
        text(
            "INSERT INTO reporting.readers (role_name, workspace_id) VALUES (:name, :workspace)"
            " RETURNING created_at"
        ),
        {"name": name, "workspace": workspace_id},
    )
    return Reader(name, workspace_id, workspace_name, created_at, role_exists=True)


async def drop_reader(session: AsyncSession, *, name: str) -> None:
    """Remove a reader: its row in reporting.readers, then its role.

    Only a registered reader is dropped, never another role of the server. Its open sessions are
    refused from their next statement once this commits (the role is in the readers' group no
    more, and the views would find no registration either).
    """
    registered = await session.scalar(
        text("DELETE FROM reporting.readers WHERE role_name = :name RETURNING role_name"),
        {"name": name},
    )
    if registered is None:
        raise not_found(f"reporting role {name}", "name")
    role = (
        await session.execute(
            text(
                "SELECT rolsuper, pg_has_role(oid, :group, 'MEMBER') FROM pg_roles"
                " WHERE rolname = :name"
            ),
            {"name": name, "group": READER_GROUP},
        )
    ).one_or_none()
    if role is None:
        return  # dropped by hand already: the registration was all that was left
    if role[0] or not role[1]:
        # Registered by hand, not by create_reader: dropping it could break something else.
        raise DomainError(
            ErrorCode.INVALID_STATE,
            f"{name} is not a role made for reporting (a superuser, or not a member of "
            f"{READER_GROUP}): drop it by hand",
            "name",
        )
    owner = await session.scalar(text("SELECT current_user"))
    try:
        await (await session.connection()).exec_driver_sql(f'DROP ROLE "{name}"')
    except DBAPIError as error:
        problem = _permission_problem(error, owner)
        if problem is not None:
            raise problem from None
        raise


async def list_readers(session: AsyncSession) -> list[Reader]:
    """Every registered reader, by name."""
    rows = await session.execute(
        text(
            "SELECT r.role_name, r.workspace_id, w.name, r.created_at,"
            "       EXISTS (SELECT FROM pg_roles a WHERE a.rolname = r.role_name)"
            " FROM reporting.readers r JOIN workspaces w ON w.id = r.workspace_id"
            " ORDER BY r.role_name"
        )
    )
    return [Reader(str(row[0]), row[1], row[2], row[3], row[4]) for row in rows]

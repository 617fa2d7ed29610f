"""A throw-away Virtuoso (Debian's ``virtuoso-opensource``: ``virtuoso-t``) on loopback, for the
tests of the remote store on a second engine; started from a generated ``virtuoso.ini`` in a
temporary directory, waited on by the line it prints once it listens."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.engine_process import EngineProcess
from tests.servers import free_port

READY = "Server online at "
"""What ``virtuoso-t +foreground`` prints once its SQL and HTTP sockets listen."""
MISSING = (
    "Virtuoso is missing (virtuoso-t, isql-vt): apt-get install virtuoso-opensource "
    "(.ci/run installs it)"
)
SETUP = (
    # The SPARQL user of /sparql may update (a test server on loopback only: in production put
    # the endpoint behind a proxy that asks for credentials, docs/deployment.md).
    'GRANT SPARQL_UPDATE TO "SPARQL";',
)
INI = """\
[Database]
DatabaseFile = {dir}/virtuoso.db
ErrorLogFile = {dir}/virtuoso.log
LockFile = {dir}/virtuoso.lck
TransactionFile = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {dir}/virtuoso-temp.db
TransactionFile = {dir}/virtuoso-temp.trx
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
CheckpointInterval = 60
CaseMode = 2
DirsAllowed = ., {dir}
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000
ThreadsPerQuery = 2

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {dir}
ServerThreads = 10
MaxClientConnections = 10
Charset = UTF-8
EnabledGzipContent = 0

[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = {timeout}
MaxQueryCostEstimationTime = {cost_limit}
"""
"""The settings of the test server: loopback ports, its files in one directory, no row cap
that a test could reach (Virtuoso's default, 10,000 rows, cuts answers); the rest as Debian's
``virtuoso.ini`` has it."""


def virtuoso_commands() -> tuple[str, str] | None:
    """Return the server and its SQL client (``virtuoso-t``, ``isql-vt``) on the PATH."""
    server, client = shutil.which("virtuoso-t"), shutil.which("isql-vt")
    return (server, client) if server and client else None


@dataclass
class VirtuosoServer:
    """A ``virtuoso-t`` process on a directory, that can be killed and started again."""

    directory: Path
    log: Path
    port: int = field(default_factory=free_port)
    sql_port: int = field(default_factory=free_port)
    timeout: int = 10
    """Seconds the server lets a query run (``MaxQueryExecutionTime``)."""
    cost_limit: int = 400
    """``MaxQueryCostEstimationTime``: Virtuoso refuses at once a query it estimates to run
    longer (400 s, its default); 0: no estimate, every query runs. The estimate also changes
    how Virtuoso compiles updates (with it, the ``/sparql`` endpoint adds ``define
    sql:big-data-const 0``: the failures that :data:`fairdicom.store.remote_store.VIRTUOSO_UPDATE`
    avoids), so the default is what the tests run on."""
    running: EngineProcess | None = None

    @property
    def url(self) -> str:
        """Return the server's base URL (``--store`` for fairdicom)."""
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> dict[str, str]:
        """Return fairdicom's settings for this server (its endpoints are not Oxigraph's)."""
        return {
            "store_query_url": f"{self.url}/sparql",
            "store_update_url": f"{self.url}/sparql",
            "store_graph_store_url": f"{self.url}/sparql-graph-crud",
        }

    def start(self) -> None:
        """Start the server, wait for the line it prints once it listens, then let the SPARQL
        user write (on the first start)."""
        commands = virtuoso_commands()
        if commands is None:
            pytest.skip(MISSING)
        server, client = commands
        first = not (self.directory / "virtuoso.db").exists()
        self.directory.mkdir(parents=True, exist_ok=True)
        ini = self.directory / "virtuoso.ini"
        ini.write_text(
            INI.format(
                dir=self.directory,
                sql_port=self.sql_port,
                http_port=self.port,
                timeout=self.timeout,
                cost_limit=self.cost_limit,
            )
        )
        self.running = EngineProcess.start(
            [server, "+foreground", "+configfile", str(ini)],
            self.log,
            READY,
            "virtuoso-t",
            cwd=self.directory,
        )
        if first:
            self.sql(client, *SETUP)

    def sql(self, client: str, *statements: str) -> None:
        """Run SQL statements as the database administrator (``dba``, the new database's)."""
        done = subprocess.run(
            [client, f"127.0.0.1:{self.sql_port}", "dba", "dba", "exec=" + " ".join(statements)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0 or "Error" in done.stdout + done.stderr:
            self.stop()
            pytest.fail(f"isql-vt failed:\n{done.stdout}\n{done.stderr}")

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash or a power cut would."""
        if self.running is not None:
            self.running.kill()
            self.running = None

    def stop(self) -> None:
        """Stop the server (SIGTERM: it checkpoints and ends; SIGKILL after 60 s)."""
        if self.running is not None:
            self.running.stop(timeout=60)
            self.running = None


@contextmanager
def virtuoso_serving(directory: Path) -> Iterator[VirtuosoServer]:
    """Run Virtuoso on a new database in DIRECTORY, on free loopback ports, until the block
    ends."""
    server = VirtuosoServer(directory, directory.with_name(directory.name + ".log"))
    server.start()
    try:
        yield server
    finally:
        server.stop()

"""Build the warehouse with dbt into a fresh DuckDB file, then publish it for the dashboards by atomic swap.

DuckDB lets one process write a database file, while dashboards read all the time. So each build writes a new
file nobody else opens, and only a build whose models and tests all passed is renamed over the published file
with `os.replace`: readers that already opened the old file keep reading it (its inode lives on until they
close it); new readers see the new one. A failed build leaves the last good warehouse in place.

Builds are incremental: a build starts from a copy of the last published file, so dbt's incremental
staging models re-read only a lookback window of the lake. The copy is used only when it was built by the same
dbt project (its `project_fingerprint`) and no full rebuild was requested (`request_full_refresh`, after an
erasure or a backfill of old dates); otherwise the build starts from an empty file. The periodic builder makes
that copy right after it publishes (`prepare_next_build`), while it waits for its next turn, so the copy is not
in the next build's way.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Self, TypeAlias, TypedDict

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import structlog

from ingestion.contract.event import TrackedEvent
from shoploop import rfm
from warehouse.lake import (
    EVENTS_SCHEMA,
    FULL_REFRESH_MARKER,
    LIVE_MINUTES_SCHEMA,
    ORDER_BOOK_PARTITION_KEY,
    ORDER_BOOK_SCHEMA,
    PARTITION_KEY,
    PUSHES_SCHEMA,
    OrderBookEvent,
    events_glob,
    write_events,
    write_order_events,
    write_partition,
)
from warehouse.settings import WarehouseSettings

if TYPE_CHECKING:
    from dbt_common.events.base_types import EventMsg

log = structlog.get_logger(__name__)

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt"
FIXTURE_EVENTS = Path(__file__).resolve().parent / "fixtures" / "events.jsonl"
FIXTURE_ORDER_BOOK = Path(__file__).resolve().parent / "fixtures" / "order_book.jsonl"
FIXTURE_PUSHES = Path(__file__).resolve().parent / "fixtures" / "pushes.jsonl"
DBT_TIMEOUT_S = 900.0


def project_fingerprint(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """A hash of every file that shapes the models (SQL, YAML, seeds): a changed project rebuilds in full."""
    digest = hashlib.sha256()
    for folder in ("models", "macros", "seeds", "tests"):
        for path in sorted((project_dir / folder).rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(project_dir).as_posix().encode())
                digest.update(path.read_bytes())
    digest.update((project_dir / "dbt_project.yml").read_bytes())
    return digest.hexdigest()[:16]


def _full_refresh_stamp(lake_dir: Path) -> int | None:
    try:
        return (lake_dir / FULL_REFRESH_MARKER).stat().st_mtime_ns
    except FileNotFoundError:
        return None


def published_fingerprint(warehouse_path: Path) -> str | None:
    """The project fingerprint recorded in a published warehouse, or None when there is none to read."""
    if not warehouse_path.exists():
        return None
    try:
        with duckdb.connect() as connection:
            connection.execute("attach ? as published (read_only)", [str(warehouse_path)])
            row = connection.execute(
                "select project_fingerprint from published.main.meta_build_info"
            ).fetchone()
    except duckdb.Error:
        return None
    return None if row is None or row[0] is None else str(row[0])


def incremental_starting_point(settings: WarehouseSettings, *, fingerprint: str) -> Path | None:
    """The published file when the next build may continue from it; None for a build from scratch."""
    if _full_refresh_stamp(settings.lake_dir) is not None:
        return None
    if published_fingerprint(settings.warehouse_path) != fingerprint:
        return None
    return settings.warehouse_path


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What one `dbt build` produced: the new database file (when it succeeded) and why it failed (when not)."""

    succeeded: bool
    database_path: Path
    duration_s: float
    return_code: int
    failure_lines: tuple[str, ...] = ()


def lake_has_events(events_dir: Path, *, partition_key: str = PARTITION_KEY) -> bool:
    """Whether DuckDB's lake glob matches at least one file (temporary files start with a dot and do not)."""
    return any(events_dir.glob(f"{partition_key}=*/*.parquet"))


def empty_lake_glob(
    work_dir: Path,
    *,
    table: str = "events",
    schema: pa.Schema = EVENTS_SCHEMA,
    partition_key: str = PARTITION_KEY,
) -> str:
    """A glob over one empty, correctly typed file: what dbt reads before the sink wrote anything."""
    table_dir = work_dir / "empty-lake" / table
    partition = table_dir / f"{partition_key}=1970-01-01"
    partition.mkdir(parents=True, exist_ok=True)
    empty_file = partition / "empty.parquet"
    if not empty_file.exists():
        temporary = partition / f".empty-{uuid.uuid4().hex[:8]}.tmp"
        pq.write_table(schema.empty_table(), temporary)
        os.replace(temporary, empty_file)
    return events_glob(table_dir, partition_key=partition_key)


def lake_glob_or_empty(table_dir: Path, *, work_dir: Path, schema: pa.Schema, partition_key: str) -> str:
    """The glob of a lake table, or of an empty stand-in with its schema while the table has no file."""
    if lake_has_events(table_dir, partition_key=partition_key):
        return events_glob(table_dir.resolve(), partition_key=partition_key)
    return empty_lake_glob(
        work_dir.resolve(), table=table_dir.name, schema=schema, partition_key=partition_key
    )


def dbt_executable() -> Path:
    """The dbt installed next to this interpreter (the project's virtualenv), not whatever is on PATH."""
    return Path(sys.executable).with_name("dbt")


def dbt_build_command(
    *,
    database_path: Path,
    lake_glob: str,
    shop_timezone: str,
    work_dir: Path,
    run_unit_tests: bool = True,
    order_book_glob: str | None = None,
    live_minutes_glob: str | None = None,
    pushes_glob: str | None = None,
    command: tuple[str, ...] = ("build",),
    fingerprint: str | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> list[str]:
    dbt_vars: dict[str, str | int] = {
        "database_path": str(database_path),
        "events_glob": lake_glob,
        "shop_timezone": shop_timezone,
        # dim_users' RFM thresholds: one definition for the warehouse, the streams and the console.
        **rfm.dbt_vars(),
    }
    if memory_limit is not None:
        dbt_vars["duckdb_memory_limit"] = memory_limit
    if fingerprint is not None:
        dbt_vars["project_fingerprint"] = fingerprint
    if order_book_glob is not None:
        dbt_vars["order_book_glob"] = order_book_glob
    if live_minutes_glob is not None:
        dbt_vars["live_minutes_glob"] = live_minutes_glob
    if pushes_glob is not None:
        dbt_vars["pushes_glob"] = pushes_glob
    # Unit tests check the SQL, not the data: `make test` runs them on the fixture; live rebuilds skip them.
    skip_unit_tests = [] if run_unit_tests else ["--exclude-resource-type", "unit_test"]
    return [
        str(dbt_executable()),
        "--no-send-anonymous-usage-stats",
        "--no-use-colors",
        *command,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        # Per data folder, so a test's build and the demo's build never share dbt's working files.
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
        "--vars",
        orjson.dumps(dbt_vars).decode(),
        *(skip_unit_tests if command == ("build",) else []),
        *(["--threads", str(threads)] if threads is not None else []),
    ]


def _failure_lines(output: str) -> tuple[str, ...]:
    markers = ("ERROR", "FAIL", "Error", "error:")
    lines = [line.strip() for line in output.splitlines() if any(marker in line for marker in markers)]
    return tuple(lines[-20:]) or tuple(output.strip().splitlines()[-10:])


def _remove_database(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def _checkpoint_if_needed(database_path: Path) -> None:
    """Fold a leftover write-ahead log into the file: a renamed file must not need its old-named WAL."""
    if database_path.with_name(database_path.name + ".wal").exists():
        with duckdb.connect(str(database_path)) as connection:
            connection.execute("checkpoint")


# What tells one published file from the next: a published file is never written in place, only replaced by a
# rename (a new inode with its own times), so an unchanged identity means the very same bytes.
FileIdentity: TypeAlias = tuple[int, int, int, int, int]


def _identity(status: os.stat_result) -> FileIdentity:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def _copy_open_file(source: BinaryIO, target: Path, *, written_back: bool = False) -> None:
    """Copy the file `source` has open (whatever its path names by now) to `target`, in the kernel where it can.
    With `written_back`, also wait until the copy is on disk: the next build's checkpoint syncs the file, and would
    otherwise wait for the whole copy to be written back (~0.2 s for 0.75 GB here)."""
    size = os.fstat(source.fileno()).st_size
    with target.open("wb") as out:
        try:
            copied = 0
            while copied < size:
                sent = os.sendfile(out.fileno(), source.fileno(), copied, size - copied)
                if sent == 0:
                    break
                copied += sent
        except OSError:  # no sendfile into a regular file on this system: copy through a buffer
            source.seek(0)
            out.seek(0)
            out.truncate()
            shutil.copyfileobj(source, out, 16 << 20)
        if written_back:
            out.flush()
            os.fsync(out.fileno())


BUILD_FILE_NAME = "shoploop-build.duckdb"


class BuildFile:
    """The file a builder writes its builds into, and the copy of the published warehouse it prepared for the next.

    The builder that holds the data folder's build lock (`<warehouse>/.build.lock`) always writes
    `build/shoploop-build.duckdb`: dbt's vars (which name the file) stay the same from one build and one process to
    the next, so dbt reads its saved parse of the project (partial parsing) instead of parsing it again. A builder
    that finds the lock taken (a one-off `shoploop dbt build` while the periodic builder runs) writes a file named
    after its process, as every build did before, so two builders never touch each other's file.

    `prepare_next_build` fills the file with a copy of the published warehouse after a publish; the next build
    starts from it only if the published file is still the one copied (`prepared_from`).
    """

    def __init__(self, build_dir: Path) -> None:
        build_dir.mkdir(parents=True, exist_ok=True)
        self._lock: BinaryIO | None = (build_dir.parent / ".build.lock").open("ab")
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            name = BUILD_FILE_NAME
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            name = f"shoploop-build-{os.getpid()}.duckdb"
        self.path = (build_dir / name).resolve()
        self._preparing = self.path.with_name(f".{self.path.name}.preparing")
        self.prepared_from: FileIdentity | None = None
        # A file left by an earlier process (it crashed, or prepared a copy and stopped) is never trusted.
        _remove_database(self.path)
        self._preparing.unlink(missing_ok=True)

    @property
    def holds_the_lock(self) -> bool:
        return self._lock is not None

    def start_from(self, starting_point: Path | None) -> None:
        """Make the build file a copy of `starting_point` (the published warehouse), or remove it for a build
        from scratch; a prepared copy of the same published file is used as it is."""
        prepared, self.prepared_from = self.prepared_from, None
        if starting_point is not None and prepared is not None and self.path.exists():
            try:
                if _identity(starting_point.stat()) == prepared:
                    return
            except FileNotFoundError:
                pass
        _remove_database(self.path)
        if starting_point is None:
            return
        try:
            # A reader or another builder may hold the published file open: a copy of its current inode is a
            # consistent snapshot, as every published file is complete and never written in place.
            with starting_point.open("rb") as source:
                _copy_open_file(source, self.path)
        except FileNotFoundError:
            _remove_database(self.path)

    def prepare(self, published: Path) -> bool:
        """Copy the published warehouse into the build file now, for the next build; False if there is none."""
        self.prepared_from = None
        _remove_database(self.path)
        try:
            with published.open("rb") as source:
                identity = _identity(os.fstat(source.fileno()))
                _copy_open_file(source, self._preparing, written_back=True)
            os.replace(self._preparing, self.path)
        except FileNotFoundError:
            return False
        finally:
            self._preparing.unlink(missing_ok=True)  # a copy cut short (no published file, Ctrl-C)
        self.prepared_from = identity
        return True

    def discard_prepared(self) -> None:
        if self.prepared_from is not None:
            _remove_database(self.path)
            self.prepared_from = None

    def close(self) -> None:
        """Let go of the lock (the next builder gets the stable name) and of a prepared copy nobody will use."""
        self.discard_prepared()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def prepare_next_build(settings: WarehouseSettings, build_file: BuildFile) -> bool:
    """Right after a publish, copy the published warehouse into `build_file` so the next build can start from it
    without copying first. Only when that build would continue incrementally (same dbt project, no full refresh
    requested); True when a copy was made."""
    if incremental_starting_point(settings, fingerprint=project_fingerprint()) is None:
        build_file.discard_prepared()
        return False
    return build_file.prepare(settings.warehouse_path)


class WarmDbt:
    """dbt loaded once in this process, for a builder that rebuilds every few seconds (`run_periodically`).

    A `dbt build` subprocess spends seconds before its first model: starting Python, importing dbt, reading the
    project. Here the project is parsed once per set of vars (the build file and the lake globs, which stay the
    same for a builder process until the lake gets its first file) and each build is a `dbtRunner` invocation
    on that manifest. After each build dbt-duckdb's cached database handle is closed: the build file is renamed
    into place and must not stay open (or be written) through a stale handle.
    """

    def __init__(self) -> None:
        self._manifest: object | None = None
        self._parsed_for: tuple[str, ...] | None = None

    def invoke(self, arguments: list[str]) -> tuple[int, str]:
        """Run one dbt command (arguments as for the CLI, without the executable); returns (exit code, failures)."""
        from dbt.cli.main import dbtRunner

        parse_arguments = [a for a in arguments if a not in _BUILD_ONLY_FLAGS]
        command_at = next(i for i, a in enumerate(parse_arguments) if a in _DBT_COMMANDS)
        key = tuple(parse_arguments[command_at + 1 :])
        try:
            if self._manifest is None or key != self._parsed_for:
                parsed = dbtRunner().invoke([*parse_arguments[:command_at], "parse", *key])
                if not parsed.success:
                    return 1, f"ERROR dbt parse failed: {parsed.exception}"
                self._manifest, self._parsed_for = parsed.result, key
            result = dbtRunner(
                manifest=self._manifest,  # type: ignore[arg-type]
                callbacks=[_WarningsToLog(_log_path_of(arguments))],
            ).invoke([*arguments, *_WARM_BUILD_FLAGS])
        finally:
            _close_dbt_duckdb()
        _write_run_results(result, arguments)
        if result.success:
            return 0, ""
        return 1, _failures_of(result)


_DBT_COMMANDS = ("build", "docs", "run", "test", "parse")
_BUILD_ONLY_FLAGS = ("--exclude-resource-type", "unit_test", "--full-refresh")
# dbt's work around each node that a builder rebuilding every few seconds does not need: the whole manifest
# rewritten as manifest.json after every build, and its loggers, which format every event into a line (the
# environment scrubbed of secrets, line by line) even where the line is then dropped for its level — a few
# debug events per node. Warnings and errors still reach dbt.log (`_WarningsToLog`); run_results.json is written
# from the result (`_write_run_results`).
_WARM_BUILD_FLAGS = ("--log-level", "none", "--log-level-file", "none", "--no-write-json")


def _log_path_of(arguments: list[str]) -> Path | None:
    return Path(arguments[arguments.index("--log-path") + 1]) if "--log-path" in arguments else None


class _WarningsToLog:
    """A dbt event callback: appends warnings and errors to `<log path>/dbt.log`, as dbt's file logger at level
    warn would, without formatting the other events."""

    def __init__(self, log_path: Path | None) -> None:
        self._log_file = None if log_path is None else log_path / "dbt.log"

    def __call__(self, event: EventMsg) -> None:
        if self._log_file is None or event.info.level not in ("warn", "error"):
            return
        from dbt_common.events.functions import env_scrubber

        message = env_scrubber(event.info.msg)  # type: ignore[attr-defined]  # a protobuf field
        self._log_file.parent.mkdir(parents=True, exist_ok=True)
        with self._log_file.open("a", encoding="utf-8") as log_file:
            log_file.write(f"{datetime.now(UTC):%H:%M:%S} [{event.info.level}] {message}\n")


def _write_run_results(result: object, arguments: list[str]) -> None:
    """Write run_results.json into the build's target folder, as dbt does without `--no-write-json`."""
    run = getattr(result, "result", None)
    write = getattr(run, "write", None)
    if write is None or "--target-path" not in arguments:
        return
    target = Path(arguments[arguments.index("--target-path") + 1])
    target.mkdir(parents=True, exist_ok=True)
    write(str(target / "run_results.json"))


def _close_dbt_duckdb() -> None:
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()  # type: ignore[no-untyped-call]


def _failures_of(result: object) -> str:
    lines = []
    exception = getattr(result, "exception", None)
    if exception is not None:
        lines.append(f"ERROR {type(exception).__name__}: {exception}")
    run = getattr(result, "result", None)
    for node_result in getattr(run, "results", None) or []:
        status = str(getattr(node_result, "status", ""))
        if status in ("error", "fail"):
            lines.append(f"{status.upper()} {node_result.node.name}: {node_result.message}")
    return "\n".join(lines) or "ERROR dbt build failed"


class LakeGlobs(TypedDict):
    lake_glob: str
    order_book_glob: str
    live_minutes_glob: str
    pushes_glob: str


def lake_globs(
    *,
    events_dir: Path,
    work_dir: Path,
    order_book_dir: Path | None = None,
    live_minutes_dir: Path | None = None,
) -> LakeGlobs:
    """The dbt vars naming each lake table's glob; the order book and live minutes sit beside the events."""
    return {
        "lake_glob": lake_glob_or_empty(
            events_dir, work_dir=work_dir, schema=EVENTS_SCHEMA, partition_key=PARTITION_KEY
        ),
        "order_book_glob": lake_glob_or_empty(
            order_book_dir or events_dir.parent / "order_book",
            work_dir=work_dir,
            schema=ORDER_BOOK_SCHEMA,
            partition_key=ORDER_BOOK_PARTITION_KEY,
        ),
        "live_minutes_glob": lake_glob_or_empty(
            live_minutes_dir or events_dir.parent / "live_minutes",
            work_dir=work_dir,
            schema=LIVE_MINUTES_SCHEMA,
            partition_key=PARTITION_KEY,
        ),
        "pushes_glob": lake_glob_or_empty(
            events_dir.parent / "pushes", work_dir=work_dir, schema=PUSHES_SCHEMA, partition_key=PARTITION_KEY
        ),
    }


def forget_parse_of_another_project(target_dir: Path, project_dir: Path = DBT_PROJECT_DIR) -> None:
    """Drop dbt's saved parse (partial parsing) when it was made from a dbt project at another path.

    The parse keeps absolute paths (a seed's CSV file, for one), and dbt reuses it when the project's files are
    unchanged, wherever they now are: a data folder built by one checkout and then by another (a moved install, a
    new container image over the same volume) failed with "No files found that match the pattern <old path>".
    The target folder notes the project it was parsed from; a different one costs one full parse.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    marker = target_dir / "project-dir"
    project = str(project_dir.resolve())
    if not marker.exists() or marker.read_text() != project:
        (target_dir / "partial_parse.msgpack").unlink(missing_ok=True)
        marker.write_text(project)


def build_warehouse(
    *,
    events_dir: Path,
    build_file: BuildFile,
    work_dir: Path,
    shop_timezone: str = "Asia/Shanghai",
    run_unit_tests: bool = True,
    order_book_dir: Path | None = None,
    live_minutes_dir: Path | None = None,
    starting_point: Path | None = None,
    fingerprint: str | None = None,
    warm_dbt: WarmDbt | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> BuildResult:
    """Run `dbt build` over the lake in `events_dir` into `build_file`.

    With `starting_point` (the last published warehouse), the build file begins as a copy of it (or as the copy
    `build_file` already prepared) and the incremental models add only what is new. The file is removed again
    when the build fails; an empty lake builds empty marts.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    forget_parse_of_another_project(work_dir / "target")
    database_path = build_file.path
    started = time.monotonic()
    build_file.start_from(starting_point)
    command = dbt_build_command(
        database_path=database_path,
        shop_timezone=shop_timezone,
        work_dir=work_dir.resolve(),
        run_unit_tests=run_unit_tests,
        fingerprint=fingerprint,
        memory_limit=memory_limit,
        threads=threads,
        **lake_globs(
            events_dir=events_dir,
            order_book_dir=order_book_dir,
            live_minutes_dir=live_minutes_dir,
            work_dir=work_dir,
        ),
    )
    if warm_dbt is not None:
        return_code, output = warm_dbt.invoke([*command[1:], "--quiet"])
    else:
        try:
            completed = subprocess.run(
                command,
                cwd=DBT_PROJECT_DIR,
                capture_output=True,
                text=True,
                timeout=DBT_TIMEOUT_S,
                check=False,
            )
            return_code, output = completed.returncode, completed.stdout + completed.stderr
        except subprocess.TimeoutExpired:
            return_code, output = 1, f"ERROR dbt build took longer than {DBT_TIMEOUT_S:.0f}s and was stopped"
    duration_s = time.monotonic() - started
    if return_code != 0 or not database_path.exists():
        _remove_database(database_path)
        return BuildResult(
            succeeded=False,
            database_path=database_path,
            duration_s=duration_s,
            return_code=return_code or 1,
            failure_lines=_failure_lines(output),
        )
    _checkpoint_if_needed(database_path)
    return BuildResult(succeeded=True, database_path=database_path, duration_s=duration_s, return_code=0)


def generate_docs(settings: WarehouseSettings) -> Path:
    """`dbt docs generate` against the published warehouse; returns the folder to serve (`dbt docs serve`
    equivalent: `python -m http.server` in it). For a `shoploop dbt docs` command."""
    work_dir = settings.data_dir / "dbt"
    work_dir.mkdir(parents=True, exist_ok=True)
    forget_parse_of_another_project(work_dir / "target")
    catalog_db = settings.build_dir / f"docs-{os.getpid()}.duckdb"
    catalog_db.parent.mkdir(parents=True, exist_ok=True)
    # dbt reads the catalogue from a database it opens for writing, so a copy of the published file.
    if settings.warehouse_path.exists():
        shutil.copyfile(settings.warehouse_path, catalog_db)
    command = dbt_build_command(
        database_path=catalog_db.resolve(),
        shop_timezone=settings.shop_timezone,
        work_dir=work_dir.resolve(),
        command=("docs", "generate"),
        **lake_globs(
            events_dir=settings.events_dir,
            order_book_dir=settings.order_book_dir,
            live_minutes_dir=settings.live_minutes_dir,
            work_dir=work_dir,
        ),
    )
    try:
        completed = subprocess.run(
            command, cwd=DBT_PROJECT_DIR, capture_output=True, text=True, timeout=DBT_TIMEOUT_S, check=False
        )
    finally:
        _remove_database(catalog_db)
    if completed.returncode != 0:
        raise RuntimeError("dbt docs generate failed: " + " | ".join(_failure_lines(completed.stdout)))
    return work_dir / "target"


def publish(built_database: Path, warehouse_path: Path) -> None:
    """Atomically make `built_database` the published warehouse (same filesystem, so a rename)."""
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(built_database, warehouse_path)


def load_fixture_events(path: Path = FIXTURE_EVENTS) -> list[TrackedEvent]:
    """The bundled fixture: enriched events, one JSON document a line, in the order they were received."""
    lines = path.read_bytes().splitlines()
    return [TrackedEvent.from_json(line) for line in lines if line.strip()]


def fixture_settings(settings: WarehouseSettings) -> WarehouseSettings:
    """The fixture gets its own lake and warehouse under the data folder, away from the live ones."""
    return WarehouseSettings(data_dir=settings.data_dir / "fixture", shop_timezone=settings.shop_timezone)


def load_fixture_order_book(path: Path = FIXTURE_ORDER_BOOK) -> list[OrderBookEvent]:
    """The bundled order-book fixture: outbox messages as the relay publishes them, one a line."""
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    events = []
    for line in lines:
        event = OrderBookEvent.from_json(line, received_at=datetime.now(UTC))
        # Received a second after it occurred, so the fixture lake is the same on every build.
        events.append(replace(event, received_at=event.occurred_at + timedelta(seconds=1)))
    return events


def load_fixture_pushes(path: Path = FIXTURE_PUSHES) -> pa.Table:
    """The bundled push records (what the streams' automations decided: sent or held out), received a second
    after each decision."""
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    for row in rows:
        for column in ("decided_at", "sent_at", "opened_at"):
            row[column] = datetime.fromisoformat(row[column]) if row[column] else None
        row["received_at"] = row["decided_at"] + timedelta(seconds=1)
    return pa.Table.from_pylist(rows, schema=PUSHES_SCHEMA)


def write_fixture_lake(settings: WarehouseSettings) -> Path:
    """Replace the fixture lake with the bundled events, order book and push records, written by the sink's own
    writers."""
    for table_dir in (settings.events_dir, settings.order_book_dir, settings.pushes_dir):
        shutil.rmtree(table_dir, ignore_errors=True)
    write_events(settings.events_dir, load_fixture_events())
    write_order_events(settings.order_book_dir, load_fixture_order_book())
    pushes = load_fixture_pushes()
    received_days = pc.strftime(pushes["received_at"], format="%Y-%m-%d")
    for day in sorted(set(received_days.to_pylist())):
        write_partition(settings.pushes_dir, day, pushes.filter(pc.equal(received_days, day)))
    return settings.events_dir


def build_and_publish(
    settings: WarehouseSettings,
    *,
    fixture: bool = False,
    full_refresh: bool = False,
    warm_dbt: WarmDbt | None = None,
    build_file: BuildFile | None = None,
) -> int:
    """Build the warehouse and, only if every model and test passed, publish it. Returns an exit code.

    The build continues incrementally from the published warehouse unless `full_refresh`, a requested full
    refresh (`request_full_refresh`) or a changed dbt project says otherwise. With `fixture`, build the bundled
    fixture events in `<data_dir>/fixture` (always from scratch) instead of the live lake; the live warehouse is
    left alone. A builder that builds again and again passes its `build_file` (`run_periodically`); without one,
    the build claims a build file for itself.
    """
    if fixture:
        settings = fixture_settings(settings)
        write_fixture_lake(settings)
        build_file = None  # the fixture has a build folder of its own
    if build_file is None:
        with BuildFile(settings.build_dir) as own_file:
            return _build_and_publish(
                settings, fixture=fixture, full_refresh=full_refresh, warm_dbt=warm_dbt, build_file=own_file
            )
    return _build_and_publish(
        settings, fixture=fixture, full_refresh=full_refresh, warm_dbt=warm_dbt, build_file=build_file
    )


# A full refresh requested while a build ran (an erasure rewrote the lake under it) makes that build's result
# unpublishable: it may hold the erased rows. The build is redone from scratch, a few times at most.
_BUILD_ATTEMPTS = 3
_DISCARDED = -1


def _build_and_publish(
    settings: WarehouseSettings,
    *,
    fixture: bool,
    full_refresh: bool,
    warm_dbt: WarmDbt | None,
    build_file: BuildFile,
) -> int:
    for attempt in range(1, _BUILD_ATTEMPTS + 1):
        return_code = _build_once_and_publish(
            settings, fixture=fixture, full_refresh=full_refresh, warm_dbt=warm_dbt, build_file=build_file
        )
        if return_code != _DISCARDED:
            return return_code
        log.warning(
            "warehouse_build_discarded", attempt=attempt, reason="full refresh requested during the build"
        )
    log.error("warehouse_not_published", attempts=_BUILD_ATTEMPTS, reason="full refreshes kept arriving")
    return 1


def _build_once_and_publish(
    settings: WarehouseSettings,
    *,
    fixture: bool,
    full_refresh: bool,
    warm_dbt: WarmDbt | None,
    build_file: BuildFile,
) -> int:
    fingerprint = project_fingerprint()
    # Taken before the build: a refresh requested while this build runs means the lake changed under it.
    refresh_stamp = _full_refresh_stamp(settings.lake_dir)
    starting_point = (
        None if fixture or full_refresh else incremental_starting_point(settings, fingerprint=fingerprint)
    )
    result = build_warehouse(
        events_dir=settings.events_dir,
        build_file=build_file,
        work_dir=settings.data_dir / "dbt",
        shop_timezone=settings.shop_timezone,
        run_unit_tests=fixture,
        order_book_dir=settings.order_book_dir,
        live_minutes_dir=settings.live_minutes_dir,
        starting_point=starting_point,
        fingerprint=fingerprint,
        warm_dbt=warm_dbt,
        memory_limit=settings.build_memory_limit,
        threads=settings.build_threads,
    )
    if not result.succeeded:
        log.error(
            "warehouse_build_failed",
            duration_s=round(result.duration_s, 2),
            return_code=result.return_code,
            failures=list(result.failure_lines),
            kept=str(settings.warehouse_path),
        )
        return result.return_code
    if not fixture and _full_refresh_stamp(settings.lake_dir) not in (None, refresh_stamp):
        return _DISCARDED
    publish(result.database_path, settings.warehouse_path)
    if (
        refresh_stamp is not None
        and starting_point is None
        and _full_refresh_stamp(settings.lake_dir) == refresh_stamp
    ):
        (settings.lake_dir / FULL_REFRESH_MARKER).unlink(missing_ok=True)
    log.info(
        "warehouse_published",
        duration_s=round(result.duration_s, 2),
        warehouse=str(settings.warehouse_path),
        fixture=fixture,
        incremental=starting_point is not None,
    )
    return 0


@contextmanager
def _stopped_by_ctrl_c() -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        log.info("warehouse_builds_stopped")


def run_periodically(settings: WarehouseSettings, *, every_s: float) -> None:
    """Build and publish every `every_s` seconds (measured start to start) until Ctrl-C.

    A failed build is logged and the next one is tried on schedule; the last good warehouse stays published.
    dbt stays loaded between builds (`WarmDbt`), and while the builder waits for its next turn it copies the
    published warehouse into its build file (`prepare_next_build`), so the next build does not start by copying.
    """
    warm_dbt = WarmDbt()
    with _stopped_by_ctrl_c(), BuildFile(settings.build_dir) as build_file:
        while True:
            started = time.monotonic()
            exit_code = build_and_publish(settings, warm_dbt=warm_dbt, build_file=build_file)
            elapsed = time.monotonic() - started
            prepared = prepare_next_build(settings, build_file)
            waited = time.monotonic() - started
            log.info(
                "warehouse_build_finished",
                outcome="published" if exit_code == 0 else "failed",
                duration_s=round(elapsed, 2),
                next_build_prepared_s=round(waited - elapsed, 2) if prepared else None,
                next_in_s=round(max(0.0, every_s - waited), 2),
            )
            time.sleep(max(0.0, every_s - waited))

import base64
import hashlib
import hmac
import itertools
import json
import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cerbero_mcp.common.audit import AuditLog, AuditQuery
from cerbero_mcp.common.audit_keys import load_or_create_key
from cerbero_mcp.common.audit_records import GENESIS_HASH
from cerbero_mcp.common.audit_verify import Finding, VerifyResult

KEY = b"k" * 32
T0 = datetime(2025, 3, 10, 12, 0, 0, tzinfo=UTC)
TS_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **delta: float) -> None:
        self.now += timedelta(**delta)


MakeLog = Callable[..., AuditLog]


class HeadStore:
    """The state store's part the log needs: the chain head, kept apart from the log."""

    def __init__(self) -> None:
        self.head: tuple[int, str] | None = None
        self.writes = 0

    def audit_head(self) -> tuple[int, str] | None:
        return self.head

    def set_audit_head(self, seq: int, last_hash: str) -> None:
        self.head = (seq, last_hash)
        self.writes += 1


@pytest.fixture
def heads() -> HeadStore:
    return HeadStore()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "audit.jsonl"


@pytest.fixture
def make_log(log_path: Path, clock: Clock) -> Iterator[MakeLog]:
    made: list[AuditLog] = []

    def make(**kwargs: Any) -> AuditLog:
        kwargs.setdefault("fsync", False)
        kwargs.setdefault("clock", clock)
        log = AuditLog(log_path, kwargs.pop("hmac_key", KEY), **kwargs)
        made.append(log)
        return log

    yield make
    for log in made:
        log.close()


def record(i: int = 0, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "request_id": f"req-{i}",
        "actor": "testnet",
        "bot_tag": "bot-a",
        "exchange": "deribit",
        "action": "place_order",
        "target": "BTC-PERPETUAL",
        "params": {"amount": i, "side": "buy"},
        "outcome": "ok",
        "error_code": None,
        "duration_ms": 12.5,
    }
    base.update(overrides)
    return base


def fill(log: AuditLog, clock: Clock, n: int, **overrides: Any) -> list[dict[str, Any]]:
    stored = []
    for i in range(n):
        stored.append(log.append(record(i, **overrides)))
        clock.tick(seconds=1)
    return stored


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines))


def codes(result: VerifyResult) -> list[str]:
    return [finding.code for finding in result.findings]


def expected_hash(rec: dict[str, Any], key: bytes = KEY) -> str:
    body = {k: v for k, v in rec.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


# -- the chain ---------------------------------------------------------------------------------------


def test_appended_records_form_a_verifiable_hmac_chain(make_log: MakeLog, clock: Clock, log_path: Path) -> None:
    log = make_log()
    stored = fill(log, clock, 20)

    on_disk = [json.loads(line) for line in read_lines(log_path)]
    assert on_disk == stored
    assert on_disk[0]["prev_hash"] == GENESIS_HASH
    for prev, cur in itertools.pairwise(on_disk):
        assert cur["prev_hash"] == prev["hash"]
    for rec in on_disk:
        assert rec["hash"] == expected_hash(rec)
        assert TS_FORMAT.match(rec["ts"])
    assert [rec["seq"] for rec in on_disk] == list(range(1, 21))
    assert list(on_disk[0]) == [
        "ts",
        "seq",
        "request_id",
        "actor",
        "bot_tag",
        "exchange",
        "action",
        "target",
        "params",
        "outcome",
        "error_code",
        "duration_ms",
        "prev_hash",
        "hash",
    ]
    assert on_disk[0]["ts"] == "2025-03-10T12:00:00.000Z"

    result = log.verify()
    assert result.ok
    assert result.records_checked == 20
    assert result.files_checked == ["audit.jsonl"]
    assert result.first_broken is None
    assert result.findings == []
    assert result.head == {"seq": 20, "hash": stored[-1]["hash"]}
    assert result.to_dict()["first_broken"] is None


def test_live_file_is_private_to_the_owner(make_log: MakeLog, log_path: Path) -> None:
    make_log()
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600


def test_edited_field_is_reported_with_its_line(make_log: MakeLog, clock: Clock, log_path: Path) -> None:
    log = make_log()
    fill(log, clock, 10)
    lines = read_lines(log_path)
    edited = json.loads(lines[2])
    edited["outcome"] = "error"
    lines[2] = json.dumps(edited)
    write_lines(log_path, lines)

    result = log.verify()
    assert not result.ok
    assert result.first_broken is not None
    assert (result.first_broken.file, result.first_broken.line) == ("audit.jsonl", 3)
    assert "hash mismatch" in result.first_broken.reason
    assert result.records_checked == 10
    assert codes(result) == ["hash_mismatch"]
    assert (result.findings[0].file, result.findings[0].line) == ("audit.jsonl", 3)


def test_edited_params_with_a_recomputed_keyless_hash_is_reported(
    make_log: MakeLog, clock: Clock, log_path: Path
) -> None:
    log = make_log()
    fill(log, clock, 5)
    lines = read_lines(log_path)
    edited = json.loads(lines[4])
    edited["params"]["amount"] = 1000
    edited["hash"] = hashlib.sha256(json.dumps(edited, sort_keys=True).encode()).hexdigest()
    lines[4] = json.dumps(edited)
    write_lines(log_path, lines)

    broken = log.verify().first_broken
    assert broken is not None
    assert broken.line == 5
    assert "hash mismatch" in broken.reason


def test_deleted_line_is_reported_at_the_next_record(make_log: MakeLog, clock: Clock, log_path: Path) -> None:
    log = make_log()
    fill(log, clock, 10)
    lines = read_lines(log_path)
    del lines[4]
    write_lines(log_path, lines)

    result = log.verify()
    assert not result.ok
    assert result.first_broken is not None
    assert result.first_broken.line == 5
    assert "prev_hash mismatch" in result.first_broken.reason
    assert codes(result) == ["chain_break"]


def test_non_ascii_hash_is_reported_not_crashed_on(make_log: MakeLog, clock: Clock, log_path: Path) -> None:
    log = make_log()
    fill(log, clock, 2)
    lines = read_lines(log_path)
    edited = json.loads(lines[0])
    edited["hash"] = "é" * 64
    lines[0] = json.dumps(edited)
    write_lines(log_path, lines)

    broken = log.verify().first_broken
    assert broken is not None
    assert broken.line == 1
    assert "hash mismatch" in broken.reason


def test_reordered_lines_are_reported(make_log: MakeLog, clock: Clock, log_path: Path) -> None:
    log = make_log()
    fill(log, clock, 6)
    lines = read_lines(log_path)
    lines[2], lines[3] = lines[3], lines[2]
    write_lines(log_path, lines)

    broken = log.verify().first_broken
    assert broken is not None
    assert broken.line == 3
    assert "prev_hash mismatch" in broken.reason


def test_inserted_garbage_line_is_reported(make_log: MakeLog, clock: Clock, log_path: Path) -> None:
    log = make_log()
    fill(log, clock, 4)
    lines = read_lines(log_path)
    lines.insert(2, "not json at all")
    write_lines(log_path, lines)

    broken = log.verify().first_broken
    assert broken is not None
    assert broken.line == 3
    assert "not a JSON object" in broken.reason


def test_records_cut_from_the_end_are_caught_by_the_running_writer(
    make_log: MakeLog, clock: Clock, log_path: Path
) -> None:
    log = make_log()
    fill(log, clock, 5)
    write_lines(log_path, read_lines(log_path)[:3])

    result = log.verify()
    broken = result.first_broken
    assert broken is not None
    assert (broken.file, broken.line) == ("audit.jsonl", 4)
    assert "deleted from the end" in broken.reason
    assert codes(result) == ["truncated"]
    assert result.findings[0].details["expected_seq"] == 5
    assert result.findings[0].details["found_seq"] == 3

    log.append(record(9))  # the writer sees the cut, records it in the chain and goes on from the end
    after = log.verify()
    assert codes(after) == ["truncated"]
    assert [json.loads(line)["seq"] for line in read_lines(log_path)] == [1, 2, 3, 4, 5]


def test_another_key_fails_verification(make_log: MakeLog, clock: Clock) -> None:
    log = make_log()
    fill(log, clock, 3)
    log.close()

    broken = make_log(hmac_key=b"another-key-of-32-bytes-length!!").verify().first_broken
    assert broken is not None
    assert broken.line == 1


# -- crash and restart -------------------------------------------------------------------------------


def test_torn_last_line_is_moved_aside_reported_once_and_the_chain_goes_on(
    make_log: MakeLog, clock: Clock, log_path: Path
) -> None:
    log = make_log()
    stored = fill(log, clock, 5)
    log.close()
    data = log_path.read_bytes()
    last_line_start = data.rstrip(b"\n").rfind(b"\n") + 1
    log_path.write_bytes(data[: last_line_start + 40])  # crash in the middle of the last write

    reopened = make_log()
    result = reopened.verify()
    assert result.ok
    assert codes(result) == ["torn_write_recovered"]
    torn = result.findings[0]
    assert (torn.severity, torn.offset, torn.details["length"]) == ("warning", last_line_start, 40)
    side = log_path.with_name("audit.jsonl.torn")
    entry = json.loads(side.read_text())
    assert base64.b64decode(entry["base64"]) == data[last_line_start : last_line_start + 40]  # nothing lost
    assert entry["offset"] == last_line_start
    assert stat.S_IMODE(side.stat().st_mode) == 0o600

    new = reopened.append(record(99))
    lines = [json.loads(line) for line in read_lines(log_path)]
    assert lines[:4] == stored[:4]  # the fragment is gone from the live file
    assert (lines[4]["actor"], lines[4]["action"], lines[4]["prev_hash"]) == (
        "system",
        "audit.torn_write_recovered",
        stored[3]["hash"],  # chained to the last whole record
    )
    assert lines[5] == new
    assert new["seq"] == 6
    fill(reopened, clock, 2)
    reopened.close()

    again = make_log().verify()  # a restart neither re-detects nor repeats it
    assert again.ok
    assert again.records_checked == 8
    assert codes(again) == ["torn_write_recovered"]
    assert again.findings[0].offset == last_line_start


def test_a_last_record_that_lost_only_its_newline_is_kept(make_log: MakeLog, clock: Clock, log_path: Path) -> None:
    log = make_log()
    stored = fill(log, clock, 3)
    log.close()
    log_path.write_bytes(log_path.read_bytes().rstrip(b"\n"))

    reopened = make_log()
    new = reopened.append(record(9))
    assert new["prev_hash"] == stored[-1]["hash"]
    result = reopened.verify()
    assert (result.ok, result.findings, result.records_checked) == (True, [], 4)
    assert not log_path.with_name("audit.jsonl.torn").exists()


def test_restart_continues_the_chain(make_log: MakeLog, clock: Clock, log_path: Path) -> None:
    first = make_log()
    before = fill(first, clock, 3)
    first.close()

    second = make_log()
    after = fill(second, clock, 2)

    assert after[0]["prev_hash"] == before[-1]["hash"]
    assert len(read_lines(log_path)) == 5
    assert second.verify().ok


def test_append_after_close_reopens_the_file(make_log: MakeLog, clock: Clock, log_path: Path) -> None:
    log = make_log()
    fill(log, clock, 2)
    log.close()
    fill(log, clock, 2)
    assert len(read_lines(log_path)) == 4
    assert log.verify().ok


def test_live_file_moved_away_is_recreated_the_gap_recorded_and_the_chain_continues(
    make_log: MakeLog, clock: Clock, log_path: Path
) -> None:
    log = make_log()
    before = fill(log, clock, 2)
    log_path.rename(log_path.with_name("elsewhere.jsonl"))
    assert codes(log.verify()) == ["live_file_missing"]

    new = log.append(record(5))
    gap, written = (json.loads(line) for line in read_lines(log_path))
    assert (gap["action"], gap["prev_hash"], gap["seq"]) == ("audit.gap", before[-1]["hash"], 3)
    assert gap["params"]["code"] == "live_file_missing"
    assert written == new
    assert new["prev_hash"] == gap["hash"]
    result = log.verify()
    assert not result.ok
    assert codes(result) == ["live_file_missing"]  # once: recorded in the chain, no longer seen at the end


# -- rotation and retention --------------------------------------------------------------------------


def test_rotation_at_midnight_splits_files_and_keeps_the_chain(make_log: MakeLog, clock: Clock, log_path: Path) -> None:
    clock.now = datetime(2025, 3, 10, 23, 59, 59, 500_000, tzinfo=UTC)
    log = make_log()
    day_one = [log.append(record(i)) for i in range(3)]
    clock.now = datetime(2025, 3, 11, 0, 0, 0, 100_000, tzinfo=UTC)
    day_two = [log.append(record(i)) for i in range(2)]

    backup = log_path.with_name("audit.jsonl.2025-03-10")
    assert [json.loads(line) for line in read_lines(backup)] == day_one
    assert [json.loads(line) for line in read_lines(log_path)] == day_two
    assert day_two[0]["prev_hash"] == day_one[-1]["hash"]
    assert day_two[0]["ts"] == "2025-03-11T00:00:00.100Z"

    result = log.verify()
    assert result.ok
    assert result.files_checked == ["audit.jsonl.2025-03-10", "audit.jsonl"]
    assert result.records_checked == 5


def test_deleted_record_across_a_rotation_is_reported(make_log: MakeLog, clock: Clock, log_path: Path) -> None:
    log = make_log()
    fill(log, clock, 3)
    clock.tick(days=1)
    fill(log, clock, 3)
    write_lines(log_path, read_lines(log_path)[1:])  # drop the first record of the new day

    broken = log.verify().first_broken
    assert broken is not None
    assert (broken.file, broken.line) == ("audit.jsonl", 1)
    assert "prev_hash mismatch" in broken.reason


def test_restart_on_a_later_day_rotates_the_previous_days_file(make_log: MakeLog, clock: Clock, log_path: Path) -> None:
    fill(make_log(), clock, 2)
    clock.tick(days=1)
    log = make_log()
    fill(log, clock, 1)

    assert log_path.with_name("audit.jsonl.2025-03-10").exists()
    assert len(read_lines(log_path)) == 1
    assert log.verify().ok


def test_backups_older_than_backup_days_are_deleted(make_log: MakeLog, clock: Clock, log_path: Path) -> None:
    log = make_log(backup_days=2)
    for _ in range(6):  # one record a day, 10th to 15th of March
        log.append(record())
        clock.tick(days=1)
    clock.tick(days=-1)

    backups = sorted(p.name for p in log_path.parent.iterdir() if p.name != "audit.jsonl")
    assert backups == ["audit.jsonl.2025-03-13", "audit.jsonl.2025-03-14"]
    result = log.verify()  # the oldest retained file's first prev_hash is the accepted anchor
    assert result.ok
    assert result.files_checked == [*backups, "audit.jsonl"]
    log.close()

    clock.tick(days=30)
    make_log(backup_days=2)  # start-up prunes too
    assert sorted(p.name for p in log_path.parent.iterdir()) == ["audit.jsonl"]


# -- query -------------------------------------------------------------------------------------------


@pytest.fixture
def mixed_log(make_log: MakeLog, clock: Clock) -> AuditLog:
    log = make_log()
    rows = [
        ("testnet", "deribit", "place_order", "bot-a"),
        ("mainnet", "bybit", "cancel_order", "bot-b"),
        ("testnet", "bybit", "place_order", "bot-b"),
        ("admin", None, "admin.kill_switch", None),
        ("mainnet", "deribit", "place_order", "bot-a"),
        ("testnet", "deribit", "cancel_order", "bot-a"),
    ]
    for i, (actor, exchange, action, bot_tag) in enumerate(rows):
        log.append(record(i, actor=actor, exchange=exchange, action=action, bot_tag=bot_tag))
        clock.tick(seconds=1)
    return log


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["request_id"] for r in records]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (AuditQuery(), ["req-0", "req-1", "req-2", "req-3", "req-4", "req-5"]),
        (AuditQuery(actor="testnet"), ["req-0", "req-2", "req-5"]),
        (AuditQuery(actor="admin"), ["req-3"]),
        (AuditQuery(exchange="bybit"), ["req-1", "req-2"]),
        (AuditQuery(action="place_order"), ["req-0", "req-2", "req-4"]),
        (AuditQuery(bot_tag="bot-a"), ["req-0", "req-4", "req-5"]),
        (AuditQuery(actor="mainnet", exchange="deribit"), ["req-4"]),
        (AuditQuery(actor="nobody"), []),
    ],
)
def test_query_filters_by_exact_field(mixed_log: AuditLog, query: AuditQuery, expected: list[str]) -> None:
    assert ids(mixed_log.query(query)) == expected


def test_query_time_window_is_inclusive(mixed_log: AuditLog) -> None:
    window = AuditQuery(from_ts=T0 + timedelta(seconds=1), to_ts=T0 + timedelta(seconds=3))
    assert ids(mixed_log.query(window)) == ["req-1", "req-2", "req-3"]
    naive = AuditQuery(from_ts=datetime(2025, 3, 10, 12, 0, 4))  # naive means UTC
    assert ids(mixed_log.query(naive)) == ["req-4", "req-5"]
    assert mixed_log.query(AuditQuery(from_ts=T0 + timedelta(days=1))) == []


def test_query_limit_returns_the_most_recent_in_chronological_order(mixed_log: AuditLog) -> None:
    assert ids(mixed_log.query(AuditQuery(limit=2))) == ["req-4", "req-5"]
    assert ids(mixed_log.query(AuditQuery(actor="testnet", limit=2))) == ["req-2", "req-5"]
    assert mixed_log.query(AuditQuery(limit=0)) == []
    with pytest.raises(ValueError, match="limit"):
        AuditQuery(limit=-1)


def test_query_spans_rotated_files(make_log: MakeLog, clock: Clock) -> None:
    log = make_log()
    fill(log, clock, 2)
    clock.tick(days=1)
    fill(log, clock, 2, actor="mainnet")
    assert [r["actor"] for r in log.query(AuditQuery())] == ["testnet", "testnet", "mainnet", "mainnet"]
    assert len(log.query(AuditQuery(from_ts=clock.now - timedelta(hours=1)))) == 2


# -- content -----------------------------------------------------------------------------------------


def test_params_are_redacted_before_they_reach_the_file(make_log: MakeLog, log_path: Path) -> None:
    secrets = [f"leak-{n}-{'x' * 12}" for n in range(7)]
    log = make_log()
    stored = log.append(
        record(
            params={
                "symbol": "BTCUSDT",
                "api_key": secrets[0],
                "secret": secrets[1],
                "signature": secrets[2],
                "access_token": secrets[3],
                "password": secrets[4],
                "nested": [{"client_secret": secrets[5]}],
                "headers": {"Authorization": f"Bearer {secrets[6]}"},
            }
        )
    )

    text = log_path.read_text()
    assert not [s for s in secrets if s in text]
    assert stored["params"]["symbol"] == "BTCUSDT"
    assert stored["params"]["api_key"] == "***"
    assert stored["params"]["nested"] == [{"client_secret": "***"}]
    assert log.verify().ok


def test_unicode_and_non_json_values_are_stored_and_verify(make_log: MakeLog, log_path: Path) -> None:
    log = make_log()
    stored = log.append(record(params={"note": "stop € ✓ \u2028 ok", "qty": Decimal("0.1"), "when": T0}))
    assert stored["params"] == {"note": "stop € ✓ \u2028 ok", "qty": "0.1", "when": str(T0)}
    assert log_path.read_bytes().isascii()
    assert log.query(AuditQuery())[0]["params"]["note"] == "stop € ✓ \u2028 ok"
    assert log.verify().ok


def test_caller_cannot_supply_ts_or_chain_fields(make_log: MakeLog) -> None:
    log = make_log()
    stored = log.append(record(ts="1999-01-01T00:00:00.000Z", prev_hash="f" * 64, hash="e" * 64, note="x"))
    assert stored["ts"] == "2025-03-10T12:00:00.000Z"
    assert stored["prev_hash"] == GENESIS_HASH
    assert stored["note"] == "x"
    assert log.verify().ok


@pytest.mark.parametrize(
    ("field", "value"),
    [("actor", "root"), ("actor", None), ("outcome", "maybe"), ("action", ""), ("action", None)],
)
def test_invalid_records_are_refused(make_log: MakeLog, field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        make_log().append(record(**{field: value}))


# -- configuration -----------------------------------------------------------------------------------


def test_a_log_file_without_an_hmac_key_is_refused(log_path: Path) -> None:
    with pytest.raises(ValueError, match="AUDIT_HMAC_KEY must be set when AUDIT_LOG_FILE is set"):
        AuditLog(log_path, None)
    with pytest.raises(ValueError, match="AUDIT_HMAC_KEY"):
        AuditLog(log_path, b"")


def test_without_a_file_the_log_is_a_no_op(clock: Clock) -> None:
    log = AuditLog(None, None, clock=clock)
    stored = log.append(record(params={"api_key": "x"}))
    assert not log.enabled
    assert "hash" not in stored
    assert "prev_hash" not in stored
    assert "seq" not in stored
    assert stored["params"]["api_key"] == "***"
    assert log.query(AuditQuery()) == []
    result = log.verify()
    assert (result.ok, result.records_checked, result.enabled) == (False, 0, False)  # off is never "ok"
    assert codes(result) == ["audit_disabled"]
    log.close()


# -- concurrency and async ---------------------------------------------------------------------------


def test_concurrent_appends_from_threads_keep_one_chain(make_log: MakeLog, log_path: Path) -> None:
    log = make_log(clock=lambda: datetime.now(UTC).replace(year=2025, month=3, day=10))
    errors: list[BaseException] = []
    verifications: list[bool] = []
    start = threading.Barrier(9)

    def writer(n: int) -> None:
        start.wait()
        try:
            for i in range(200):
                log.append(record(i, request_id=f"t{n}-{i}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def verifier() -> None:
        start.wait()
        for _ in range(5):
            verifications.append(log.verify().ok)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    threads.append(threading.Thread(target=verifier))
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert all(verifications)  # readers racing the writers see a consistent prefix
    result = log.verify()
    assert result.ok
    assert result.records_checked == 1600
    assert len({json.loads(line)["request_id"] for line in read_lines(log_path)}) == 1600


async def test_aappend_writes_before_returning(make_log: MakeLog, log_path: Path) -> None:
    for fsync in (True, False):
        log = make_log(fsync=fsync)
        stored = await log.aappend(record(1))
        assert json.loads(read_lines(log_path)[-1]) == stored
        assert (await log.averify()).ok
        assert await log.aquery(AuditQuery(limit=1)) == [stored]
        log.close()


# -- the chain head kept apart from the log ----------------------------------------------------------


def test_every_append_moves_the_head_after_the_record_is_written(
    make_log: MakeLog, clock: Clock, heads: HeadStore, log_path: Path
) -> None:
    log = make_log(head_store=heads)
    assert heads.head is None  # an empty log writes nothing
    stored = fill(log, clock, 3)
    assert heads.head == (3, stored[-1]["hash"])
    assert heads.writes == 3
    assert json.loads(read_lines(log_path)[-1])["seq"] == 3


def test_a_log_cut_while_the_server_was_down_is_reported_from_the_head(
    make_log: MakeLog, clock: Clock, heads: HeadStore, log_path: Path
) -> None:
    log = make_log(head_store=heads)
    stored = fill(log, clock, 8)
    log.close()
    write_lines(log_path, read_lines(log_path)[:5])  # drop the last 3 lines

    reopened = make_log(head_store=heads)
    result = reopened.verify()
    assert not result.ok
    assert codes(result) == ["truncated"]
    finding = result.findings[0]
    assert (finding.details["expected_seq"], finding.details["found_seq"]) == (8, 5)
    assert finding.details["expected_hash"] == stored[-1]["hash"]
    assert [f.code for f in reopened.opening_findings] == ["truncated"]

    new = reopened.append(record(20))
    assert new["prev_hash"] != stored[-1]["hash"]  # goes on from the last record left, after the gap record
    assert codes(reopened.verify()) == ["truncated"]  # still there after later appends and restarts
    reopened.close()
    assert codes(make_log(head_store=heads).verify()) == ["truncated"]


def test_a_deleted_live_file_is_reported_before_and_after_the_next_start(
    make_log: MakeLog, clock: Clock, heads: HeadStore, log_path: Path
) -> None:
    log = make_log(head_store=heads)
    fill(log, clock, 416)
    log.close()
    log_path.unlink()

    reopened = make_log(head_store=heads)  # the old code verified the next 2 records as "ok"
    fill(reopened, clock, 2)
    result = reopened.verify()
    assert not result.ok
    assert codes(result) == ["live_file_missing"]
    gap = json.loads(read_lines(log_path)[0])
    assert (gap["seq"], gap["params"]["expected_seq"], gap["error_code"]) == (417, 416, "AUDIT_LIVE_FILE_MISSING")
    assert [json.loads(line)["seq"] for line in read_lines(log_path)] == [417, 418, 419]


def test_a_deleted_live_file_without_a_restart_is_reported(
    make_log: MakeLog, clock: Clock, heads: HeadStore, log_path: Path
) -> None:
    log = make_log(head_store=heads)
    fill(log, clock, 4)
    log_path.unlink()

    missing = log.verify()
    assert (missing.ok, codes(missing), missing.records_checked) == (False, ["live_file_missing"], 0)
    fill(log, clock, 2)
    assert codes(log.verify()) == ["live_file_missing"]


def test_a_restarted_chain_after_the_previous_file_is_reported(
    make_log: MakeLog, clock: Clock, heads: HeadStore, log_path: Path, tmp_path: Path
) -> None:
    log = make_log(head_store=heads)
    fill(log, clock, 3)
    clock.tick(days=1)
    fill(log, clock, 2)  # rotated: audit.jsonl.2025-03-10 holds 1-3, the live file 4-5
    log.close()
    elsewhere = tmp_path / "fresh" / "audit.jsonl"
    with AuditLog(elsewhere, KEY, clock=clock, fsync=False) as fresh:  # same key, a chain from scratch
        fill(fresh, clock, 2)
    elsewhere.replace(log_path)

    result = make_log(head_store=heads).verify()
    assert not result.ok
    assert "chain_restarted" in codes(result)
    restarted = next(f for f in result.findings if f.code == "chain_restarted")
    assert (restarted.file, restarted.line) == ("audit.jsonl", 1)


def test_a_log_replaced_by_another_chain_is_reported_against_the_head(
    make_log: MakeLog, clock: Clock, heads: HeadStore, log_path: Path, tmp_path: Path
) -> None:
    log = make_log(head_store=heads)
    fill(log, clock, 3)
    log.close()
    elsewhere = tmp_path / "fresh" / "audit.jsonl"
    with AuditLog(elsewhere, KEY, clock=clock, fsync=False) as fresh:
        fill(fresh, clock, 5, bot_tag="forged")
    elsewhere.replace(log_path)

    result = make_log(head_store=heads).verify()
    assert codes(result) == ["chain_restarted"]
    assert result.findings[0].details["expected_seq"] == 3


def test_a_head_that_missed_its_last_update_is_a_warning(make_log: MakeLog, clock: Clock, heads: HeadStore) -> None:
    log = make_log(head_store=heads)
    stored = fill(log, clock, 4)
    log.close()
    heads.head = (3, stored[2]["hash"])  # a crash between the record and the head's update

    reopened = make_log(head_store=heads)
    assert [f.code for f in reopened.opening_findings] == ["head_behind"]
    assert heads.head == (4, stored[3]["hash"])  # adopted from the log
    assert reopened.verify().ok
    assert reopened.append(record(9))["seq"] == 5


def test_seq_runs_on_across_restarts_and_rotation(make_log: MakeLog, clock: Clock, heads: HeadStore) -> None:
    first = make_log(head_store=heads)
    fill(first, clock, 2)
    first.close()
    second = make_log(head_store=heads)
    clock.tick(days=1)
    fill(second, clock, 2)
    assert [r["seq"] for r in second.query(AuditQuery())] == [1, 2, 3, 4]
    assert second.verify().ok


def test_records_written_before_seq_existed_still_verify_and_the_chain_goes_on(
    make_log: MakeLog, clock: Clock, log_path: Path
) -> None:
    legacy, prev = [], GENESIS_HASH
    for i in range(3):
        rec = {"ts": f"2025-03-10T11:00:0{i}.000Z", **record(i), "prev_hash": prev}
        rec["hash"] = expected_hash(rec)
        legacy.append(rec)
        prev = rec["hash"]
    log_path.parent.mkdir(parents=True)
    write_lines(log_path, [json.dumps(rec) for rec in legacy])

    log = make_log()
    new = log.append(record(3))
    assert new["prev_hash"] == legacy[-1]["hash"]
    result = log.verify()
    assert (result.ok, result.records_checked) == (True, 4)


def test_seq_edited_with_the_key_is_reported(make_log: MakeLog, clock: Clock, log_path: Path) -> None:
    log = make_log()
    fill(log, clock, 3)
    lines = [json.loads(line) for line in read_lines(log_path)]
    lines[2]["seq"] = 7
    lines[2]["hash"] = expected_hash(lines[2])
    write_lines(log_path, [json.dumps(rec) for rec in lines])

    assert "seq_mismatch" in codes(log.verify())


def test_findings_are_capped(make_log: MakeLog, clock: Clock, log_path: Path) -> None:
    log = make_log()
    fill(log, clock, 1)
    log.close()
    with log_path.open("a") as handle:
        handle.write("garbage\n" * 150)
    result = make_log().verify()
    assert len(result.findings) == 100
    assert result.findings_omitted == 50  # 150 malformed lines; the chain itself ends at the head
    assert all(isinstance(f, Finding) for f in result.findings)


# -- the generated key ------------------------------------------------------------------------------


def test_the_key_file_is_generated_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "audit.jsonl.key"
    key, created = load_or_create_key(path)
    assert created
    assert len(key) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip().encode() == key
    assert load_or_create_key(path) == (key, False)
    assert [p.name for p in path.parent.iterdir()] == ["audit.jsonl.key"]  # no staging file left behind


def test_a_damaged_key_file_is_refused_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl.key"
    path.write_text("k3y-f8a2\n")
    with pytest.raises(ValueError, match="empty or shorter than 32 characters") as caught:
        load_or_create_key(path)
    assert "k3y-f8a2" not in str(caught.value)
    assert path.read_text() == "k3y-f8a2\n"


# -- file modes ------------------------------------------------------------------------------------


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o022, 0o277], ids=["umask000", "umask022", "umask277"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under each umask: the modes must not depend on it."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_every_audit_file_and_directory_it_creates_is_private(umask: int, tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "made" / "audit" / "audit.jsonl"
    clock.now = datetime(2025, 3, 10, 23, 59, 59, tzinfo=UTC)
    log = AuditLog(path, KEY, clock=clock, fsync=False)
    log.append(record(1))
    clock.now = datetime(2025, 3, 11, 0, 0, 1, tzinfo=UTC)
    log.append(record(2))  # rotates
    log.close()
    data = path.read_bytes()
    path.write_bytes(data[:-10])  # a torn tail, moved aside at the next opening
    AuditLog(path, KEY, clock=clock, fsync=False).close()
    key_path = tmp_path / "keys" / "audit.jsonl.key"
    load_or_create_key(key_path)

    assert mode_of(tmp_path / "made") == mode_of(path.parent) == mode_of(key_path.parent) == 0o700
    files = [path, path.with_name("audit.jsonl.2025-03-10"), path.with_name("audit.jsonl.torn"), key_path]
    assert {f.name: mode_of(f) for f in files} == {f.name: 0o600 for f in files}


def test_an_existing_audit_directory_keeps_the_operators_mode(tmp_path: Path, clock: Clock) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    mine.chmod(0o750)
    AuditLog(mine / "audit.jsonl", KEY, clock=clock, fsync=False).close()
    load_or_create_key(mine / "audit.jsonl.key")
    assert mode_of(mine) == 0o750
    assert mode_of(mine / "audit.jsonl") == mode_of(mine / "audit.jsonl.key") == 0o600

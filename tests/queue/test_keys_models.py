"""Pure logic: key names, ids, envelopes, records (no server)."""

import os
import time

import orjson
import pytest

from src.queue import Envelope, Keys, Status, new_id
from src.queue.models import make_record


def test_every_key_is_inside_the_namespace_hash_tag():
    k = Keys("agentq")
    names = [k.scheduled, k.dead, k.workers, k.jobs, k.stats, k.queue("q"), k.processing("w"),
             k.worker("w"), k.job("j"), k.events("j"), k.steps("j"), k.cancel("j"), k.idem("i"),
             k.lock("l"), k.ratelimit("r")]
    assert all(n.startswith("{agentq}:") for n in names)
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("bad", ["", "a{b", "a}b"])
def test_namespace_with_braces_is_refused(bad):
    with pytest.raises(ValueError):
        Keys(bad)


def test_ids_are_26_char_ulids_sortable_by_time():
    first = new_id()
    time.sleep(0.002)
    second = new_id()
    assert len(first) == 26 and first < second
    assert len({new_id() for _ in range(1000)}) == 1000


def test_a_forked_process_never_repeats_its_parents_ids(monkeypatch):
    """Ids draw on a buffer of random bytes: a child made by fork (uvicorn's and
    gunicorn's workers, multiprocessing) must not draw the same bytes as its parent in the
    same millisecond."""
    monkeypatch.setattr(time, "time_ns", lambda: 1_796_000_000_000_000_000)  # one ms
    new_id()  # the parent has random bytes in hand
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its ids to the parent, then out without cleanup
        os.close(read)
        os.write(write, " ".join(new_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    mine = {new_id() for _ in range(50)}
    with os.fdopen(read) as pipe:
        theirs = set(pipe.read().split())
    os.waitpid(pid, 0)
    assert len(theirs) == 50 and not mine & theirs


def test_envelope_round_trip_keeps_payload_bytes():
    payload = {"items": [], "big": 12345678901234567890, "f": 0.1, "s": "한국어"}
    env = Envelope(id=new_id(), type="echo", payload=payload)
    again = Envelope.model_validate_json(env.dump())
    assert again.payload == payload
    assert orjson.loads(env.dump())["v"] == 1


def test_record_has_the_contract_fields_in_order():
    env = Envelope(id=new_id(), type="add", payload={"x": 1, "y": 2}, max_attempts=5)
    rec = make_record(env, Status.QUEUED, attempt=0)
    assert list(rec) == ["id", "type", "queue", "status", "progress", "message", "payload",
                         "result", "error", "attempt", "max_attempts", "created_at",
                         "started_at", "finished_at", "worker"]
    assert rec["created_at"].endswith("Z") and rec["status"] == "queued"


def test_next_attempt_keeps_creation_time():
    env = Envelope(id=new_id(), type="add", enqueued_at=1000.0)
    nxt = env.next_attempt()
    assert nxt.attempt == 2 and nxt.created() == 1000.0 and nxt.enqueued_at > 1000.0


def test_iso_times_match_datetime_to_the_millisecond():
    import random
    from datetime import UTC, datetime

    from src.queue.models import iso

    rng = random.Random(1)
    samples = [0.0, 1.999, 1.9999996, 1042780588.7299999, 1732262400.9999]
    samples += [rng.uniform(0, 4e9) for _ in range(20000)]
    for ts in samples:
        expected = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
        assert iso(ts) == expected.replace("+00:00", "Z"), ts
    assert iso(None) is None

"""``Idempotency-Key`` on POST /api/v1/jobs and /jobs/batch."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.api.conftest import check_error, data_of, write_classification


def test_a_repeated_key_replays_the_first_answer(client, roots) -> None:
    body = {"workspace_path": str(roots["workspaces"] / "cls")}
    headers = {"Idempotency-Key": "k-1"}
    first = client.post("/api/v1/jobs", json=body, headers=headers)
    again = client.post("/api/v1/jobs", json=body, headers=headers)
    assert data_of(again) == data_of(first)
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert data_of(client.get("/api/v1/jobs"))["pagination"]["total"] == 1


def test_the_same_key_with_another_body_is_a_conflict(client, roots) -> None:
    headers = {"Idempotency-Key": "k-2"}
    ws = str(roots["workspaces"] / "cls")
    data_of(client.post("/api/v1/jobs", json={"workspace_path": ws}, headers=headers))
    other = {"workspace_path": ws, "scorer": "classification_accuracy"}
    body = check_error(client.post("/api/v1/jobs", json=other, headers=headers), 409, "CONFLICT")
    assert body["errors"][0]["field"] == "Idempotency-Key"
    assert data_of(client.get("/api/v1/jobs"))["pagination"]["total"] == 1


def test_a_refused_request_does_not_burn_its_key(client, roots) -> None:
    headers = {"Idempotency-Key": "k-3"}
    bad = {"workspace_path": str(roots["workspaces"] / "cls"), "scorer": "nope"}
    check_error(client.post("/api/v1/jobs", json=bad, headers=headers), 404, "SCORER_NOT_FOUND")
    good = {"workspace_path": str(roots["workspaces"] / "cls")}
    assert data_of(client.post("/api/v1/jobs", json=good, headers=headers))["status"] == "completed"


def test_batch_keys_and_concurrent_repeats(client, roots) -> None:
    base = roots["workspaces"]
    jobs = [{"workspace_path": str(write_classification(base / f"i{i}"))} for i in range(3)]
    headers = {"Idempotency-Key": "batch-1"}

    def send(_: int):
        return client.post("/api/v1/jobs/batch", json={"jobs": jobs}, headers=headers)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))
    ok = [a for a in answers if a.status_code == 202]
    assert ok, [a.text for a in answers]
    assert all(a.status_code in (202, 409) for a in answers)
    assert len({data_of(a, 202)["batch_id"] for a in ok}) == 1  # one batch, replayed
    assert data_of(client.get("/api/v1/jobs"))["pagination"]["total"] == 3
    check_error(
        client.post("/api/v1/jobs", json=jobs[0], headers={"Idempotency-Key": "x" * 256}),
        400,
        "INVALID_PARAMETER",
    )


def test_expired_and_abandoned_keys_are_free_again(tmp_path) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from autoscorer.errors import Conflict
    from autoscorer.jobs import idempotency as idem
    from autoscorer.jobs.models import IdempotencyRow
    from autoscorer.jobs.records import now
    from autoscorer.jobs.store import JobStore

    store = JobStore(f"sqlite:///{tmp_path / 'k.db'}")
    keys = idem.IdempotencyKeys(store.session, store.reader)

    def age(key: str, by: timedelta) -> None:
        with store.session.begin() as s:
            stmt = update(IdempotencyRow).where(IdempotencyRow.key == key)
            s.execute(stmt.values(created_at=now() - by))

    assert keys.reserve("s", "pending", "d1") is None
    try:
        keys.reserve("s", "pending", "d1")
        raise AssertionError("a running reservation must be a conflict")
    except Conflict as exc:
        assert exc.details["retry"] is True
    age("pending", idem.ABANDONED + timedelta(seconds=1))
    assert keys.reserve("s", "pending", "d2") is None  # the dead request's key is taken over
    keys.complete("s", "pending", 202, {"job_id": "j"})
    assert keys.reserve("s", "pending", "d2") == (202, {"job_id": "j"})
    age("pending", idem.TTL + timedelta(seconds=1))
    assert keys.purge() == 1
    assert keys.reserve("s", "pending", "d3") is None
    store.close()

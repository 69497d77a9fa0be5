"""Every method of the synchronous client against the real server."""

from __future__ import annotations

import time
import uuid

import pytest
from sklearn.metrics import accuracy_score, f1_score

from autoscorer.client import (
    AutoScorerClient,
    Conflict,
    JobStatus,
    Response,
    WaitTimeout,
)

GT = ["a", "b", "a", "b", "a", "b"]
PRED = ["a", "b", "b", "b", "a", "a"]
F1_MACRO = f1_score(GT, PRED, average="macro")


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_health_and_status(admin: AutoScorerClient) -> None:
    health = admin.health()
    assert health.status == "healthy"
    assert health.version
    status = admin.status()
    assert "total_jobs" in status.metrics
    assert status.system["version"] == health.version


def test_synchronous_submit_returns_the_result(live, admin: AutoScorerClient) -> None:
    job = admin.submit_job(
        job_id=uid("sync"),
        task_type="classification",
        scorer="classification_f1",
        workspace_path=live.ws("sync"),
    )
    assert job.status == "completed"
    assert job.result is not None
    assert job.result.summary.score == pytest.approx(F1_MACRO, abs=1e-12)
    assert job.result.metrics["accuracy"] == pytest.approx(accuracy_score(GT, PRED), abs=1e-12)


def test_async_submit_then_wait(live, admin: AutoScorerClient) -> None:
    job = admin.submit_job(workspace_path=live.ws("async"), async_=True)
    assert job.status in {"submitted", "queued", "running", "completed"}
    seen: list[JobStatus] = []
    result = admin.wait_for_completion(job.job_id, timeout=60, on_status=seen.append)
    assert isinstance(result, Response)
    assert result.success and result.errors == []
    assert result.data is not None and result.data.result is not None
    assert result.data.result.summary.score == pytest.approx(F1_MACRO, abs=1e-12)
    assert seen[-1].status == "completed" and seen[-1].progress == pytest.approx(1.0)


def test_positional_job_dict_and_async_spelling(live, admin: AutoScorerClient) -> None:
    job = admin.submit_job({"workspace_path": live.ws("dict"), "async": True})
    assert admin.wait_for_completion(job.job_id, timeout=60).success


def test_status_result_and_logs_of_a_finished_job(live, admin: AutoScorerClient) -> None:
    job = admin.submit_job(job_id=uid("done"), workspace_path=live.ws("done"))
    status = admin.get_job_status(job.job_id)
    assert status.job_id == job.job_id and status.done and status.progress == pytest.approx(1.0)
    assert status.created_at and status.completed_at
    res = admin.get_job_result(job.job_id, include_logs=True)
    assert res.result is not None and res.result.summary.score == pytest.approx(F1_MACRO)
    assert res.logs and all(e.message for e in res.logs)
    page = admin.get_job_logs(job.job_id)
    assert page.job_id == job.job_id and len(page.logs) >= 1
    assert all(e.timestamp and e.level for e in page.logs)
    assert len(admin.get_job_logs(job.job_id, tail=1).logs) == 1


def test_a_failed_job_is_reported_by_wait_for_completion(live, admin: AutoScorerClient) -> None:
    ws = live.ws("bad-pred", pred="id,wrong\n1,a\n")
    job = admin.submit_job(workspace_path=ws, async_=True)
    result = admin.wait_for_completion(job.job_id, timeout=60)
    assert not result.success
    assert result.errors[0].code == "MISSING_COLUMN"
    assert "label" in result.errors[0].message


def test_stream_logs_follows_until_the_job_ends(live, admin, slow_scorer) -> None:
    ws = live.ws("slow-stream", scorer=slow_scorer, task_type="custom")
    job = admin.submit_job(
        workspace_path=ws,
        scorer=slow_scorer,
        async_=True,
        config={"scorer_params": {"seconds": 1.0}},
    )
    entries = list(admin.stream_logs(job.job_id, timeout=60))
    assert admin.get_job_status(job.job_id).status == "completed"
    messages = [e.message for e in entries]
    assert len(messages) >= 2 and len(set(messages)) == len(messages)
    assert messages == [e.message for e in admin.get_job_logs(job.job_id).logs]


def test_wait_for_completion_times_out(live, admin, slow_scorer) -> None:
    ws = live.ws("slow-wait", scorer=slow_scorer, task_type="custom")
    job = admin.submit_job(
        workspace_path=ws, async_=True, config={"scorer_params": {"seconds": 3.0}}
    )
    with pytest.raises(WaitTimeout) as info:
        admin.wait_for_completion(job.job_id, timeout=0.5, poll_interval=0.1)
    assert info.value.job_id == job.job_id
    assert info.value.last_status in {"submitted", "queued", "running"}
    admin.cancel_job(job.job_id)


def _wait_running(client: AutoScorerClient, job_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (status := client.get_job_status(job_id).status) != "running":
        assert status in {"submitted", "queued"} and time.monotonic() < deadline, status
        time.sleep(0.05)


def test_cancel_job_and_cancel_again(live, admin, slow_scorer) -> None:
    ws = live.ws("slow-cancel", scorer=slow_scorer, task_type="custom")
    job = admin.submit_job(
        workspace_path=ws, async_=True, config={"scorer_params": {"seconds": 2.0}}
    )
    _wait_running(admin, job.job_id)  # cancel a job that is running, not one still queued
    done = admin.cancel_job(job.job_id)
    assert done.job_id == job.job_id and done.status == "cancelled"
    time.sleep(2.5)  # past the scorer's end: the cancelled run must not complete the job
    status = admin.get_job_status(job.job_id)
    assert status.status == "cancelled" and status.completed_at
    with pytest.raises(Conflict):
        admin.cancel_job(job.job_id)


def test_batch_submit_status_and_cancel(live, admin, slow_scorer) -> None:
    ws = live.ws("slow-batch", scorer=slow_scorer, task_type="custom")
    ids = [uid("b"), uid("b")]
    jobs = [
        {"job_id": i, "workspace_path": ws, "config": {"scorer_params": {"seconds": 5.0}}}
        for i in ids
    ]
    batch = admin.submit_batch(jobs, async_=True)
    assert batch.job_ids == ids and batch.submitted_jobs == 2
    st = admin.batch_status(ids, include_progress=True)
    assert [j.job_id for j in st.jobs] == ids and st.summary["total"] == 2
    out = admin.cancel_batch(ids, reason="test over")
    assert out.total_cancelled == 2
    assert {c.job_id for c in out.cancelled_jobs} == set(ids)
    assert {j.status for j in admin.batch_status(ids).jobs} == {"cancelled"}


def test_list_jobs_and_iterate_every_page(live, admin: AutoScorerClient) -> None:
    ws = live.ws("paging")
    mine = {admin.submit_job(job_id=uid("page"), workspace_path=ws).job_id for _ in range(5)}
    first = admin.list_jobs(limit=2, offset=0, status="completed")
    assert len(first.jobs) == 2 and first.pagination.has_next and not first.pagination.has_prev
    total = first.pagination.total
    every = list(admin.iter_jobs(page_size=2, status="completed"))
    assert len(every) == total == len({j.job_id for j in every})
    assert mine <= {j.job_id for j in every}
    assert all(j.status == "completed" for j in every)


def test_scorers(live, admin: AutoScorerClient, slow_scorer: str) -> None:
    names = [s.name for s in admin.scorers.list()]
    assert {"classification_f1", slow_scorer} <= set(names)
    assert all(
        s.task_type == "classification" for s in admin.scorers.list(task_type="classification")
    )
    info = admin.scorers.get("classification_f1")
    assert info.parameters["average"].choices
    test = admin.scorers.test(
        "classification_f1", live.ws("scorer-test"), parameters={"average": "macro"}
    )
    assert test.test_status == "passed"
    assert test.result is not None and test.result.summary.score == pytest.approx(F1_MACRO)


def test_scorer_reload_and_watch(live, admin: AutoScorerClient, slow_scorer: str) -> None:
    path = str(live.scorer_file)
    same = admin.scorers.reload(path, scorer_name=slow_scorer)
    assert same.total_reloaded == 0 and same.message.startswith("unchanged")
    assert [(u.name, u.version) for u in same.unchanged_scorers] == [(slow_scorer, "1.0.0")]
    live.scorer_file.write_text(live.scorer_file.read_text() + "\n# touched by the sync test\n")
    reloaded = admin.scorers.reload(path, scorer_name=slow_scorer)
    assert reloaded.total_reloaded == 1
    (item,) = reloaded.reloaded_scorers
    assert item.name == slow_scorer and item.old_version and item.new_version
    started = admin.scorers.watch(path, check_interval=0.5)
    assert started.file_path == path and started.watch_started
    assert path in [w.file_path for w in admin.scorers.watch_status().watched_files]
    stopped = admin.scorers.unwatch(path)
    assert stopped.watch_stopped
    assert path not in [w.file_path for w in admin.scorers.watch_status().watched_files]


def test_workspaces(live, admin: AutoScorerClient) -> None:
    check = admin.workspaces.validate(live.ws("validate"), scorer="classification_f1")
    assert check.valid, check.errors
    bad = admin.workspaces.validate(live.ws("validate-bad", pred="id,wrong\n1,a\n"))
    assert not bad.valid and bad.errors
    target = live.workspaces / "fresh"
    made = admin.workspaces.init(str(target), template="classification", scorer="classification_f1")
    assert "meta.json" in made.created_files and (target / "meta.json").is_file()


def test_config_get_and_update(admin: AutoScorerClient) -> None:
    cfg = admin.config.get()
    assert "executor" in cfg.to_dict()
    level = admin.config.get(section="logging").to_dict()
    old = (level.get("logging") or level)["level"]
    new = "DEBUG" if old != "DEBUG" else "INFO"
    upd = admin.config.update("logging", {"level": new})
    assert upd.updated_section == "logging" and upd.changes["level"]["new"] == new
    admin.config.update("logging", {"level": old})

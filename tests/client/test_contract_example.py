"""The contract's own Python SDK example ("SDK 和客户端库"), run against the real server.

Changes from the contract, only where it cannot run as written: the base URL and
workspace paths point at the test server's workspaces (the contract's are
placeholders), and job ids get a suffix so the test can run twice against one
server. The key the test server requires comes from ``$AUTOSCORER_API_KEY``.
"""

from __future__ import annotations

import uuid


def test_contract_python_example(live, capsys, monkeypatch) -> None:
    monkeypatch.setenv("AUTOSCORER_API_KEY", live.admin_key)
    base_url = live.url
    workspace = live.ws("example")
    ws1, ws2 = live.ws("example-1"), live.ws("example-2")
    suffix = uuid.uuid4().hex[:6]

    # -- from the contract, verbatim except for the names above ---------------------
    from autoscorer_client import AutoScorerClient

    # 创建客户端
    client = AutoScorerClient(base_url=base_url)

    # 提交任务
    job = client.submit_job(
        job_id=f"sdk-test-001-{suffix}",
        task_type="classification",
        scorer="classification_f1",
        workspace_path=workspace,
    )

    # 等待完成
    result = client.wait_for_completion(job.job_id, timeout=300)

    # 获取结果
    if result.success:
        print(f"Score: {result.data.result.summary.score}")
    else:
        print(f"Job failed: {result.errors}")

    # 批量操作
    jobs = client.submit_batch(
        [
            {"job_id": f"batch-001-{suffix}", "workspace_path": ws1},
            {"job_id": f"batch-002-{suffix}", "workspace_path": ws2},
        ]
    )

    # 监控进度
    for job_id in jobs.job_ids:
        status = client.get_job_status(job_id)
        print(f"{job_id}: {status.status} ({status.progress}%)")
    # -- end of the contract's example ----------------------------------------------

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Score: 0.666666")
    assert [line.split(":")[0] for line in out[1:]] == jobs.job_ids
    client.close()


def test_contract_async_mode_example(live, monkeypatch) -> None:
    """The contract's "异步处理" snippet; ``async=True`` is spelled ``async_=True``."""
    import time

    from autoscorer_client import AutoScorerClient

    monkeypatch.setenv("AUTOSCORER_API_KEY", live.admin_key)
    client = AutoScorerClient(base_url=live.url)
    data = {"workspace_path": live.ws("example-async")}

    # 对于长时间运行的任务, 使用异步模式
    job = client.submit_job(data, async_=True)

    # 定期检查状态而不是阻塞等待
    while True:
        status = client.get_job_status(job.job_id)
        if status.status in ["completed", "failed"]:
            break
        time.sleep(0.2)  # the contract sleeps 5 s; the test job takes milliseconds

    assert status.status == "completed"
    client.close()

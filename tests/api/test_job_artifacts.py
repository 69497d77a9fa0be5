"""A job's artifacts through the live API: published exactly as ``autoscorer score`` does,
listed in the result, downloaded byte for byte; links and traversal are refused."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from tests.api.conftest import bearer, check_error, data_of, write_classification

from autoscorer.pipeline.scoring import score

EXPECTED = {"confusion_matrix", "confusion_matrix_json", "per_class", "error_cases"}
TYPES = {".png": "image/png", ".json": "application/json", ".csv": "text/csv"}


def _submit(http: Any, ws: Path, job_id: str, **extra: Any) -> dict[str, Any]:
    body = {"job_id": job_id, "workspace_path": str(ws), **extra}
    return data_of(http.post("/api/v1/jobs", json=body, headers=bearer("submitter")))


def _artifacts(http: Any, job_id: str) -> dict[str, Any]:
    url = f"/api/v1/jobs/{job_id}/result?include_artifacts=true"
    listed: dict[str, Any] = data_of(http.get(url, headers=bearer("reader")))["result"]["artifacts"]
    return listed


def _get(http: Any, job_id: str, name: str, role: str = "reader") -> Any:
    return http.get(f"/api/v1/jobs/{job_id}/artifacts/{name}", headers=bearer(role))


def test_job_publishes_the_artifacts_autoscorer_score_does(live, roots, h) -> None:
    http = live(api_keys=h.api_keys())
    twin = write_classification(roots["tmp"] / "twin")
    library = score(twin)  # what `autoscorer score` writes
    assert set(library.artifacts) == EXPECTED
    ws = roots["workspaces"] / "cls"
    assert _submit(http, ws, "art-1")["status"] == "completed"
    listed = _artifacts(http, "art-1")
    assert set(listed) == EXPECTED
    for name, entry in listed.items():
        path = Path(entry["path"])
        assert path.parent == ws / "output" / "artifacts"
        assert set(entry) == {"path", "size", "type"}
        assert entry["size"] == path.stat().st_size > 0
        assert entry["type"] == TYPES[path.suffix]
        assert path.read_bytes() == Path(library.artifacts[name].path).read_bytes()
        for key in (name, path.name):  # by name or by file name
            resp = _get(http, "art-1", key)
            assert resp.status_code == 200, resp.text
            assert resp.content == path.read_bytes()
            assert resp.headers["content-type"].split(";")[0] == entry["type"]
            assert resp.headers["content-length"] == str(entry["size"])
            assert path.name in resp.headers["content-disposition"]
    stored = json.loads((ws / "output" / "result.json").read_text())
    assert stored["artifacts"] == listed


def test_unknown_and_traversing_names_are_not_found(live, roots, h) -> None:
    http = live(api_keys=h.api_keys())
    ws = roots["workspaces"] / "cls"
    _submit(http, ws, "art-2")
    for name in ("nope", "..%2Fmeta.json", "%2E%2E", "result.json", "..%2F..%2Fmeta.json"):
        body = check_error(_get(http, "art-2", name), 404, "RESOURCE_NOT_FOUND")
        assert "cat" not in json.dumps(body)  # no file content leaks into the error
    check_error(_get(http, "missing-job", "per_class"), 404, "RESOURCE_NOT_FOUND")
    resp = http.get("/api/v1/jobs/art-2/artifacts/per_class")  # no key: same rule as the job
    check_error(resp, 401, "UNAUTHORIZED")


def test_links_planted_after_the_run_are_refused(live, roots, h) -> None:
    http = live(api_keys=h.api_keys())
    ws = roots["workspaces"] / "cls"
    _submit(http, ws, "art-3")
    listed = _artifacts(http, "art-3")
    secret = roots["tmp"] / "outside" / "secret.csv"
    secret.write_text("TOP-SECRET\n")
    per_class = Path(listed["per_class"]["path"])
    per_class.unlink()
    per_class.symlink_to(secret)  # the file itself is a link
    check_error(_get(http, "art-3", "per_class"), 404, "RESOURCE_NOT_FOUND")
    cases = Path(listed["error_cases"]["path"])
    cases.unlink()
    os.link(ws / "input" / "gt.csv", cases)  # another name of the ground truth
    resp = _get(http, "art-3", "error_cases")
    check_error(resp, 404, "RESOURCE_NOT_FOUND")
    assert b"cat" not in resp.content
    artifacts = ws / "output" / "artifacts"
    fake = roots["tmp"] / "outside" / "fake"
    shutil.copytree(artifacts, fake, symlinks=True)
    (fake / "error_cases.csv").unlink()
    (fake / "error_cases.csv").write_text("TOP-SECRET\n")
    shutil.rmtree(artifacts)
    artifacts.symlink_to(fake, target_is_directory=True)  # the directory is a link
    resp = _get(http, "art-3", "error_cases")
    check_error(resp, 404, "RESOURCE_NOT_FOUND")
    assert b"TOP-SECRET" not in resp.content
    assert secret.read_text() == "TOP-SECRET\n"


def test_a_run_that_links_output_artifacts_out_writes_nothing_outside(live, roots, h) -> None:
    """The sandboxed command replaces output/artifacts with a link to a host folder; the
    published artifacts land in a real output/artifacts and the host folder is untouched."""
    http = live(api_keys=h.api_keys())
    target = roots["tmp"] / "outside" / "victim"
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    ws = write_classification(roots["workspaces"] / "linker")
    meta = json.loads((ws / "meta.json").read_text())
    pred, out = (ws / "output" / "pred.csv").read_text(), "/workspace/output"
    link = f"rm -rf {out}/artifacts; ln -s {target} {out}/artifacts"
    cmd = f"printf '{pred}' > {out}/pred.csv; {link}"
    meta["container"] = {"image": "local", "cmd": ["sh", "-c", cmd]}
    (ws / "meta.json").write_text(json.dumps(meta))
    done = _submit(http, ws, "art-4")
    assert done["status"] == "completed", done["result"]
    assert sorted(os.listdir(target)) == ["keep.txt"]
    artifacts = ws / "output" / "artifacts"
    assert artifacts.is_dir() and not artifacts.is_symlink()
    listed = _artifacts(http, "art-4")
    assert set(listed) == EXPECTED
    assert _get(http, "art-4", "per_class").content == (artifacts / "per_class.csv").read_bytes()

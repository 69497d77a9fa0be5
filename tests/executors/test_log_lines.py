"""A sandbox's output reaches the job's log line by line, as printed, within a cap."""

from __future__ import annotations

from autoscorer.executors.middleware import _LineFeed


class Printed:
    """Collects what ``Run.output`` would send to the job's log."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def output(self, line: str) -> None:
        self.lines.append(line)


def test_lines_split_across_chunks_arrive_whole() -> None:
    run = Printed()
    feed = _LineFeed(run)  # type: ignore[arg-type]
    feed.feed(b"tick 1\nti")
    assert run.lines == ["tick 1"]  # sent at once, not at the end of the run
    feed.feed(b"ck 2\r\nlast")
    feed.close()
    assert run.lines == ["tick 1", "tick 2", "last"]


def test_the_job_log_gets_at_most_max_lines_and_max_chars() -> None:
    run = Printed()
    feed = _LineFeed(run, max_lines=3, max_chars=5)  # type: ignore[arg-type]
    feed.feed(b"a\nbbbbbbbbbb\n" + b"x" * 12)  # an unended line longer than the cap
    feed.feed(b"c\nd\ne\n")
    feed.close()
    assert run.lines == ["a", "bbbbb", "xxxxx", "[more output in logs/container.log]"]

"""Publishing from the console: one background job at a time, progress polled by the page.

Publishing builds a new index generation (seconds for the opinion, longer for a 200-page
document); the HTTP request that starts it returns at once and the page polls the job.
`knowledge.publishing.workflow.publish_version` does the work and the atomic switch; the running
action server picks the new generation up by itself.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from knowledge.knowledge_base import KnowledgeBase
from knowledge.publishing.workflow import (
    PublishRefused,
    check_doc_id,
    check_version,
    publish_version,
)

log = logging.getLogger(__name__)


@dataclass
class PublishJob:
    id: str
    doc_id: str
    version: str
    started_by: str
    state: str = "running"  # running | published | refused | failed
    progress: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class PublishJobs:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._jobs: dict[str, PublishJob] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish")

    def start(self, doc_id: str, version: str, user: str) -> PublishJob:
        """Starts publishing doc_id@version; raises `InvalidName` for a malformed name."""
        check_doc_id(doc_id)
        check_version(version)
        job = PublishJob(uuid.uuid4().hex[:12], doc_id, version, user)
        with self._lock:
            self._jobs[job.id] = job
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> PublishJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _run(self, job: PublishJob) -> None:
        log.info("console: %s publishes %s@%s", job.started_by, job.doc_id, job.version)
        try:
            report = publish_version(self.kb, job.doc_id, job.version,
                                     progress=job.progress.append)
            job.result, job.state = report.to_json(), "published"
        except PublishRefused as exc:
            job.problems, job.state = list(exc.problems), "refused"
        except Exception as exc:  # reported to the page; the live index is untouched
            log.exception("console: publish %s@%s failed", job.doc_id, job.version)
            job.problems, job.state = [f"{type(exc).__name__}: {exc}"], "failed"
        finally:
            job.finished = time.time()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

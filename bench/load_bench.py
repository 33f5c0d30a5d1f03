"""Load benchmark of the embedded and the scaled profile, on loopback only.

    .venv-actions/bin/python bench/load_bench.py [--profiles embedded scaled]
        [--users 20 40 60 80 120 160 240] [--step-seconds 30] [--think 1 3] [--out results/bench]

Not a test. For each profile it starts every process (through the same deployment code as
`make run`), then runs steps of N simulated owners at once (half over REST, half over WeChat
in plaintext mode; conversations from bench/load/conversations.yml; think time drawn
uniformly from --think seconds between turns) for --step-seconds each, with fresh users per
step. A step reports acknowledged turns per second, p50/p95/p99 latency of every turn, the
error rate (no HTTP answer, non-200, or no reply), the share of polite "try again" replies,
and the peak resident memory of each process. Steps stop after the first one whose p95
passes 1 s: that is the knee. The simulated users run on the same 2 cores as the servers,
so the numbers are a floor for a machine that only serves.

WeChat pushes (answers split over several messages) go to the test suite's local fake of
WeChat's API; nothing leaves the machine. Writes results/bench/load.json (and a timestamped
copy) and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.model_builder import ensure_model  # noqa: E402
from assistant.scaleout.deployment import Deployment, build_deployment  # noqa: E402
from assistant.scaleout.ports import on_free_ports  # noqa: E402
from assistant.settings import EMBEDDED, SCALED, RuntimeSettings  # noqa: E402
from bench.fake_wechat_api import FakeWeChatApi  # noqa: E402
from bench.load.simulated_users import LoadPlan, Turn, load_conversations, run_load  # noqa: E402
from knowledge.evaluation.retrieval_eval import percentile  # noqa: E402

WECHAT = {"WECHAT_TOKEN": "loadBenchToken", "WECHAT_APPID": "wx0loadbench0000",
          "WECHAT_SECRET": "load-bench-secret", "WECHAT_MODE": "plain"}
KNEE_P95 = 1.0
# In assistant/channels/rest.py NO_REPLY_FALLBACK: a turn that failed inside Rasa (that module
# imports Rasa, which this runtime does not have).
RETRY_LATER = "稍后再试"


class MemorySampler:
    """Peak RSS of each process (with its children: Sanic and nginx workers) once a second."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.peak_mib: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            for process in self.deployment:
                if not process.running or process.process is None:
                    continue
                try:
                    root = psutil.Process(process.process.pid)
                    rss = sum(p.memory_info().rss for p in [root, *root.children(True)])
                except psutil.Error:
                    continue
                mib = rss / 2**20
                self.peak_mib[process.name] = max(self.peak_mib.get(process.name, 0.0), mib)
            self._stop.wait(1.0)


@dataclass
class StepResult:
    profile: str
    users: int
    seconds: float
    turns: int
    turns_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    error_rate: float
    retry_later_rate: float
    wechat_turns: int
    rest_turns: int
    peak_rss_mib: dict[str, float]


def summarise(profile: str, users: int, seconds: float, turns: list[Turn],
              memory: dict[str, float]) -> StepResult:
    latencies = [t.latency for t in turns]

    def ms(q: float) -> float:
        return round(percentile(latencies, q) * 1000, 1) if latencies else float("nan")

    acked = [t for t in turns if t.acknowledged]
    retry = [t for t in acked if any(RETRY_LATER in r for r in t.replies)]
    n = max(1, len(turns))
    return StepResult(
        profile=profile, users=users, seconds=round(seconds, 1), turns=len(turns),
        turns_per_second=round(len(acked) / seconds, 1),
        p50_ms=ms(0.50), p95_ms=ms(0.95), p99_ms=ms(0.99),
        error_rate=round((len(turns) - len(acked)) / n, 4),
        retry_later_rate=round(len(retry) / n, 4),
        wechat_turns=sum(t.channel == "wechat" for t in turns),
        rest_turns=sum(t.channel == "rest" for t in turns),
        peak_rss_mib={k: round(v, 1) for k, v in sorted(memory.items())},
    )


def profile_settings(profile: str, var_dir: Path, pg_dir: Path) -> RuntimeSettings:
    base = RuntimeSettings().model_copy(update={"profile": profile, "var_dir": var_dir})
    return on_free_ports(base, pg_dir / "data")


def bench_profile(profile: str, args: argparse.Namespace, model: Path) -> list[StepResult]:
    work = Path(tempfile.mkdtemp(prefix=f"assistant-load-{profile}-"))
    os.chmod(work, 0o755)  # PostgreSQL's own user must reach its data directory
    settings = profile_settings(profile, work / "var", work)
    deployment = build_deployment(settings, model, console=False,
                                  log=lambda m: print(f"  [{profile}] {m}", flush=True))
    results: list[StepResult] = []
    try:
        deployment.start(settings.startup_timeout)
        # Warm-up, not measured: every conversation once per channel, so that first-use costs
        # (lazy loads, WeChat's access token, first retrievals) stay out of the steps.
        scripts = load_conversations()
        for share in (0.0, 1.0):
            asyncio.run(run_load(settings.rasa_url, LoadPlan(
                users=len(scripts), turns_per_user=max(map(len, scripts)),
                duration=60, think=(0.1, 0.3), wechat_share=share,
                wechat_token=WECHAT["WECHAT_TOKEN"], name_prefix="warmup")))
        for users in args.users:
            plan = LoadPlan(users=users, turns_per_user=10_000, duration=args.step_seconds,
                            think=tuple(args.think), wechat_token=WECHAT["WECHAT_TOKEN"],
                            name_prefix=f"{profile}-{users}",
                            new_owner_per_script=not args.long_conversations)
            with MemorySampler(deployment) as memory:
                started = time.monotonic()
                turns = asyncio.run(run_load(settings.rasa_url, plan))
                elapsed = time.monotonic() - started
            step = summarise(profile, users, elapsed, turns, memory.peak_mib)
            results.append(step)
            print(f"  [{profile}] {users} users: {step.turns_per_second} turns/s, "
                  f"p95 {step.p95_ms} ms, errors {step.error_rate:.2%}", flush=True)
            if step.p95_ms > KNEE_P95 * 1000:
                break
    finally:
        deployment.stop()
    return results


def print_table(results: list[StepResult]) -> None:
    head = (f"{'profile':<9} {'users':>5} {'turns/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'p99 ms':>8} {'errors':>7} {'retry':>6}  peak RSS MiB")
    print("\n" + head + "\n" + "-" * len(head))
    for r in results:
        rss = ", ".join(f"{k} {v:.0f}" for k, v in r.peak_rss_mib.items())
        print(f"{r.profile:<9} {r.users:>5} {r.turns_per_second:>8} {r.p50_ms:>8} "
              f"{r.p95_ms:>8} {r.p99_ms:>8} {r.error_rate:>7.2%} {r.retry_later_rate:>6.2%}  "
              f"{rss}")


def knee(results: list[StepResult], profile: str) -> dict[str, object]:
    steps = [r for r in results if r.profile == profile]
    over = next((r for r in steps if r.p95_ms > KNEE_P95 * 1000), None)
    ok = [r for r in steps if r.p95_ms <= KNEE_P95 * 1000]
    return {"p95_passes_1s_at_users": over.users if over else None,
            "max_turns_per_second_with_p95_under_1s":
                max((r.turns_per_second for r in ok), default=None),
            "max_turns_per_second_with_p95_under_300ms":
                max((r.turns_per_second for r in steps if r.p95_ms <= 300), default=None)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", nargs="+", default=[EMBEDDED, SCALED],
                        choices=[EMBEDDED, SCALED])
    parser.add_argument("--users", nargs="+", type=int, default=[20, 40, 60, 80, 120, 160, 240])
    parser.add_argument("--step-seconds", type=float, default=30.0)
    parser.add_argument("--long-conversations", action="store_true",
                        help="each user keeps one conversation for the whole step, going round "
                             "its script (default: a new owner after each script)")
    parser.add_argument("--think", nargs=2, type=float, default=[1.0, 3.0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench")
    args = parser.parse_args()

    fake_api = FakeWeChatApi(WECHAT["WECHAT_APPID"], WECHAT["WECHAT_SECRET"]).start()
    os.environ.update({**WECHAT, "WECHAT_API_BASE": fake_api.url})  # the Rasa processes inherit
    model = ensure_model(RuntimeSettings())
    results: list[StepResult] = []
    try:
        for profile in args.profiles:
            print(f"profile {profile}:", flush=True)
            results += bench_profile(profile, args, model)
    finally:
        fake_api.stop()
    print_table(results)

    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count(),
        "load_average_after": os.getloadavg(), "think_seconds": args.think,
        "step_seconds": args.step_seconds,
        "conversations": ("one per user for the whole step" if args.long_conversations
                          else "a new owner after each script (3-8 turns)"),
        "steps": [asdict(r) for r in results],
        "knee": {p: knee(results, p) for p in args.profiles},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, ensure_ascii=False, indent=2)
    (args.out / "load.json").write_text(text)
    (args.out / f"load-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(text)
    print(f"\nknee: {json.dumps(report['knee'])}\nwritten: {args.out / 'load.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Lines on a Ray cluster: an actor pool, one animator (engines loaded once) per actor.

The driver sends each line's audio bytes with the task and receives the track, so the cluster's nodes
need Mouthpiece and the weights, not the driver's files.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Generator, Iterable
from typing import Any

from cli.batch.line import LineAnimator, LineOutcome, LineTask
from core.errors import InputError

LOCAL = "local"
TOKEN_HINT = "; if the cluster uses token authentication, set RAY_AUTH_MODE=token (and RAY_AUTH_TOKEN) here too"
"""``--ray`` without an address: start (or join) a Ray instance on this machine."""


class _Actor:
    """The Ray actor: a :class:`LineAnimator` that lives as long as the batch."""

    def __init__(self, threads: int) -> None:
        self.animator = LineAnimator(threads)

    def animate(self, task: LineTask) -> LineOutcome:
        return self.animator(task)


def connect(address: str) -> tuple[Any, bool]:
    """Connect to Ray at ``address`` (``local``, ``auto`` or ``ray://host:port``), unless this process already is.

    Returns the ray module, and whether this call started the connection (then the caller shuts it down).
    """
    if importlib.util.find_spec("ray") is None:
        raise InputError("--ray needs Ray: install it with: pip install 'mouthpiece[cluster]'")
    import ray

    if ray.is_initialized():
        return ray, False
    options: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False, "logging_level": logging.ERROR}
    try:
        with warnings.catch_warnings():  # the error below says it in one line
            warnings.simplefilter("ignore")
            ray.init(address=None if address == LOCAL else address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = TOKEN_HINT if address.startswith("ray://") and "timeout" in reason else ""
        raise InputError(f"cannot reach the Ray cluster at '{address}': {reason}{hint}") from None
    return ray, True


def pool_size(ray: Any, workers: int | None, threads: int, gpus_per_actor: float) -> int:
    """Actors for the batch: ``workers`` when given, else as many as the cluster's GPUs or CPUs allow."""
    if workers:
        return workers
    resources = ray.cluster_resources()
    if gpus_per_actor:
        return max(1, int(resources.get("GPU", 0) // gpus_per_actor))
    return max(1, int(resources.get("CPU", 1) // threads))


def run_ray(
    ray: Any, tasks: Iterable[LineTask], actors: int, threads: int, gpus_per_actor: float = 0.0
) -> Generator[LineOutcome, None, None]:
    """Animate ``tasks`` on ``actors`` Ray actors; outcomes come as lines finish (one line in flight per actor)."""
    from ray.util import ActorPool

    actor_class = ray.remote(num_cpus=threads, num_gpus=gpus_per_actor)(_Actor)
    handles = [actor_class.remote(threads) for _ in range(actors)]
    pool = ActorPool(handles)
    todo = iter(tasks)

    def submit_while_free() -> None:
        while pool.has_free():
            task = next(todo, None)
            if task is None:
                return
            pool.submit(lambda actor, t: actor.animate.remote(t), task)

    try:
        submit_while_free()
        while pool.has_next():
            try:
                outcome = pool.get_next_unordered()
            except ray.exceptions.RayActorError as exc:
                # the finished lines are saved; a rerun resumes from there
                raise InputError(f"a Ray actor died, stopping the batch: {str(exc).splitlines()[0]}") from None
            yield outcome
            submit_while_free()
    finally:
        for handle in handles:
            ray.kill(handle)

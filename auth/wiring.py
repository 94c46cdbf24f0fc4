"""How auth plugs into a process: its job kinds, registered by the composition root
(``api.registry.job_registry``) under their stable names.

- ``survivor.duress_alert`` and ``survivor.duress_listener``: the duress alert and the retry of
  one failed listener, bound to the ``duress`` hook (``auth.survivors.duress``);
- ``auth.attempts_prune``: hourly, the attempt counters no policy remembers any more
  (``auth.attempts``).
"""

from __future__ import annotations

from auth import attempts
from auth.survivors import duress
from core.hooks import Hook
from core.jobs import JobContext, JobRegistry


def _prune_attempts(ctx: JobContext, _payload: dict[str, object]) -> None:
    attempts.prune(ctx.session, ctx.clock.now())


def register_jobs(registry: JobRegistry, duress_listeners: Hook[duress.DuressListener]) -> None:
    """Auth's job kinds; the duress ones call the listeners on the ``duress`` hook."""
    duress.register_jobs(registry, duress_listeners)
    registry.register(attempts.PRUNE_JOB, _prune_attempts, every_seconds=3600)

"""Key names: the only module that spells a Redis key.

Every key starts with the namespace inside a hash tag, ``{ns}``, so one namespace lives
in one Redis Cluster slot and multi-key scripts work on a cluster (CONTRACT §5).
"""

from __future__ import annotations

from dataclasses import dataclass, field


def validate_namespace(ns: str) -> str:
    """`ns` if it can name a namespace, else ValueError: non-empty, and no '{', '}' (the
    hash tag around it), ':' (the separator after it) or whitespace."""
    if not ns or any(c in "{}:" or c.isspace() for c in ns):
        raise ValueError(
            f"invalid namespace {ns!r}: must be non-empty, without '{{', '}}', ':' or whitespace"
        )
    return ns


@dataclass(frozen=True, slots=True)
class Keys:
    namespace: str = "agentq"
    prefix: str = field(init=False)

    def __post_init__(self) -> None:
        validate_namespace(self.namespace)
        object.__setattr__(self, "prefix", "{" + self.namespace + "}")

    # shared structures
    @property
    def scheduled(self) -> str:
        return f"{self.prefix}:scheduled"

    @property
    def dead(self) -> str:
        return f"{self.prefix}:dead"

    @property
    def workers(self) -> str:
        return f"{self.prefix}:workers"

    @property
    def jobs(self) -> str:
        return f"{self.prefix}:jobs"

    @property
    def stats(self) -> str:
        return f"{self.prefix}:stats"

    @property
    def callbacks(self) -> str:
        return f"{self.prefix}:callbacks"

    @property
    def metrics(self) -> str:
        return f"{self.prefix}:metrics"

    @property
    def waiting(self) -> str:
        """Jobs waiting for a signal, by the time their wait runs out (ms)."""
        return f"{self.prefix}:waiting"

    @property
    def waiting_envelopes(self) -> str:
        """The envelope of each waiting job, by job id."""
        return f"{self.prefix}:waiting:envelopes"

    @property
    def key_limits(self) -> str:
        """Concurrency key → its limit of running jobs (absent: no limit)."""
        return f"{self.prefix}:key_limits"

    @property
    def archive(self) -> str:
        return f"{self.prefix}:archive"

    @property
    def archive_webhooks(self) -> str:
        return f"{self.prefix}:archive:webhooks"

    @property
    def schedules(self) -> str:
        return f"{self.prefix}:schedules"

    # per queue, worker, job
    def queue(self, name: str) -> str:
        return f"{self.prefix}:queue:{name}"

    # Fair shares: a queue's jobs with concurrency key k wait on their own list, the keys
    # with waiting jobs take turns on the queue's ring, and a wake-up list lets idle
    # workers block on every queue at once. The scripts derive these same names from the
    # queue's key and the namespace's prefix (push_job, release in lua/_fence.lua).
    def key_queue(self, name: str, key: str) -> str:
        return f"{self.prefix}:queue:{name}:key:{key}"

    def ring(self, name: str) -> str:
        return f"{self.prefix}:queue:{name}:keys"

    def wake(self, name: str) -> str:
        return f"{self.prefix}:queue:{name}:wake"

    def running(self, key: str) -> str:
        """Ids of the running jobs of concurrency key `key` (what its limit counts)."""
        return f"{self.prefix}:running:{key}"

    def recent(self, bucket: int) -> str:
        """Five minutes of LLM use per tenant and model (`histograms.RECENT_BUCKET_S`)."""
        return f"{self.prefix}:recent:{bucket}"

    def processing(self, worker: str) -> str:
        return f"{self.prefix}:processing:{worker}"

    def worker(self, worker: str) -> str:
        return f"{self.prefix}:worker:{worker}"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def events(self, job_id: str) -> str:
        return f"{self.prefix}:events:{job_id}"

    def steps(self, job_id: str) -> str:
        return f"{self.prefix}:steps:{job_id}"

    def signals(self, job_id: str) -> str:
        return f"{self.prefix}:signals:{job_id}"

    def cancel(self, job_id: str) -> str:
        return f"{self.prefix}:cancel:{job_id}"

    def idem(self, key: str, tenant: str | None = None) -> str:
        """An idempotency key; a named tenant's apart from the default tenant's (a tenant
        name has no ':')."""
        if tenant is None:
            return f"{self.prefix}:idem:{key}"
        return f"{self.prefix}:tidem:{tenant}:{key}"

    def lock(self, name: str) -> str:
        return f"{self.prefix}:lock:{name}"

    def ratelimit(self, name: str) -> str:
        return f"{self.prefix}:ratelimit:{name}"

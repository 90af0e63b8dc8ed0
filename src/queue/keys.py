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
    def archive(self) -> str:
        return f"{self.prefix}:archive"

    @property
    def archive_webhooks(self) -> str:
        return f"{self.prefix}:archive:webhooks"

    # per queue, worker, job
    def queue(self, name: str) -> str:
        return f"{self.prefix}:queue:{name}"

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

    def idem(self, key: str) -> str:
        return f"{self.prefix}:idem:{key}"

    def lock(self, name: str) -> str:
        return f"{self.prefix}:lock:{name}"

    def ratelimit(self, name: str) -> str:
        return f"{self.prefix}:ratelimit:{name}"

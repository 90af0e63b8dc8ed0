"""HTTP benchmarks (placeholder while the load generator is written)."""


def run_all(url: str, duration_s: float = 5) -> dict:
    return {"error": "not implemented yet"}

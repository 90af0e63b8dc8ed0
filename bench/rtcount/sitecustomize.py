"""Loaded at start-up when bench/rtcount is on PYTHONPATH: count Redis round trips."""

import os

if os.environ.get("BENCH_RT_DIR"):
    try:
        import _rtcount

        _rtcount.install()
    except Exception as exc:  # never break the process under measurement
        import sys

        sys.stderr.write(f"rtcount: not installed: {exc!r}\n")

"""Built-in tasks, always registered (CONTRACT §3)."""

import importlib

from . import basic  # noqa: F401

# The agent tasks are optional modules: a worker without them still runs the basics.
for _name in ("articles", "sentiment", "webhooks"):
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{_name}":
            raise

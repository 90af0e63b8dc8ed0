"""Example task modules: load one with `--tasks examples.<name>` (or AGENTQ_TASK_MODULES)."""

"""The HTTP API of agentq (CONTRACT §4): `uvicorn src.api.app:app`."""

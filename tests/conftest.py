"""Shared test configuration."""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("MEDTRUST_NO_PROGRESS", "1")
# Ray in the engine tests: loopback only (Ray resolves "127.0.0.1" to the NIC's address unless
# told it runs no multi-host cluster; read when ray is imported, so set before any test module
# imports it), no token files, and patience for agents starting on a loaded 2-core machine.
for _k, _v in {
    "RAY_AUTH_MODE": "disabled",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_agent_register_timeout_ms": "180000",
    "RAY_USAGE_STATS_ENABLED": "0",
}.items():
    os.environ.setdefault(_k, _v)
# tests/reference holds plain numpy/scipy oracles used only by tests.
sys.path.insert(0, str(Path(__file__).parent))

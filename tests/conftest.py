"""Shared test configuration."""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("MEDTRUST_NO_PROGRESS", "1")
# tests/reference holds plain numpy/scipy oracles used only by tests.
sys.path.insert(0, str(Path(__file__).parent))

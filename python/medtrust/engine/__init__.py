"""Where the work runs: this machine (``local``, the default) or a Ray cluster (``ray``).

One interface (:class:`Engine`: map a unit of work over items, check shared storage, train a
round's ensemble members in parallel), two implementations, and the jobs that use it: the AL
experiment grid (:func:`run_grid`) and failure-detection scoring (:func:`score_folder`). Results
equal the one-process run's: every unit of work is a pure function of its arguments and of files
on shared storage, written atomically, and medtrust's resumable state plus Ray's task retries
make a killed worker cost only its task.

Examples
--------
>>> from medtrust.engine import get_engine
>>> get_engine("local").describe()
{'engine': 'local', 'workers': 1}
"""

from medtrust.engine.base import Engine, Resources
from medtrust.engine.failure import score_folder
from medtrust.engine.grid import default_resources, run_grid
from medtrust.engine.local import LocalEngine
from medtrust.engine.ray import RayEngine
from medtrust.engine.select import EngineName, get_engine

__all__ = [
    "Engine",
    "EngineName",
    "LocalEngine",
    "RayEngine",
    "Resources",
    "default_resources",
    "get_engine",
    "run_grid",
    "score_folder",
]

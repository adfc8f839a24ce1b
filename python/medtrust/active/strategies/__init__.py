"""Query strategies by registry name (see :func:`medtrust.active.get_strategy`).

The built-in strategies are registered here, after their modules are imported, so that the
registry in :mod:`~medtrust.active.strategies.base` never imports the concrete strategies
(no import cycle).
"""

import math
from typing import Any

from medtrust.active.strategies.base import (
    QueryContext,
    Strategy,
    get_strategy,
    list_strategies,
    register_strategy,
)
from medtrust.active.strategies.clasp import ClaSPStrategy
from medtrust.active.strategies.kmeans import KMeansBALDStrategy
from medtrust.active.strategies.precomputed import PrecomputedStrategy
from medtrust.active.strategies.random import AllClassesStrategy, RandomStrategy
from medtrust.active.strategies.uncertainty import SoftRankStrategy, TopScoreStrategy
from medtrust.exceptions import QueryShortfallWarning

__all__ = [
    "QueryContext",
    "QueryShortfallWarning",
    "Strategy",
    "get_strategy",
    "list_strategies",
    "register_strategy",
]


def _power(**kw: Any) -> TopScoreStrategy:
    # Power sampling: Gumbel noise with beta = 1 unless the config says otherwise.
    return TopScoreStrategy(**{"beta": 1.0, **kw})


register_strategy("random", RandomStrategy, areas=("all",))
register_strategy("random_fg66", RandomStrategy, areas=("all", "class", "border"))
register_strategy("random_fg33", RandomStrategy, areas=("all",) * 4 + ("class", "border"))
register_strategy("random_all_classes", AllClassesStrategy, base="random")
register_strategy("random_fg66_all_classes", AllClassesStrategy, base="random_fg66")
register_strategy("random_fg33_all_classes", AllClassesStrategy, base="random_fg33")
register_strategy("pe", TopScoreStrategy, uncertainty="pe", beta=math.inf)
register_strategy("bald", TopScoreStrategy, uncertainty="bald", beta=math.inf)
register_strategy("exp_entropy", TopScoreStrategy, uncertainty="ee", beta=math.inf)
register_strategy("power_pe", _power, uncertainty="pe")
register_strategy("power_bald", _power, uncertainty="bald")
for _b in (5, 10, 20, 40):  # nnActive's power_bald_b5 ... b40 ablations
    register_strategy(f"power_bald_b{_b}", TopScoreStrategy, uncertainty="bald", beta=float(_b))
register_strategy("softrank_bald", SoftRankStrategy, uncertainty="bald")
register_strategy("kmeans_bald", KMeansBALDStrategy)
register_strategy("clasp_pe", ClaSPStrategy)
register_strategy("clasp_pe_smooth", ClaSPStrategy, schedule="smooth")
register_strategy("clasp_pe_sharp", ClaSPStrategy, schedule="sharp")
register_strategy("clap_pe", ClaSPStrategy, schedule="constant", beta=1.0)
register_strategy("class_pe", ClaSPStrategy, schedule="none")
register_strategy("precomputed", PrecomputedStrategy, offset=1)
register_strategy("precomputed_start", PrecomputedStrategy, offset=0)

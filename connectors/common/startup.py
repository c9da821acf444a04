"""Once the Rasa server is up, the loaded model's objects leave the garbage collector's scans.

A Rasa process that has loaded the model tracks about 676,000 objects (TensorFlow, the graph
components, Rasa's modules). A full collection walks all of them and held the event loop for
about 350 ms on this machine (`benchmarks/README.md`), now and then in the middle of a
customer's turn: the long tail of every latency. Almost none of them ever become garbage.
`gc.freeze()` moves what exists once the model is loaded (Rasa loads it before the server
starts) to the permanent generation, so later collections only walk what the turns create.

The cost: a reference cycle among the frozen objects is never collected; a model replaced
through Rasa's HTTP API would leave parts of the old one in memory (the product never does).
"""

from __future__ import annotations

import gc
import logging
from typing import Any

logger = logging.getLogger(__name__)


def freeze_loaded_objects(_app: Any, _loop: Any) -> None:
    """A sanic `after_server_start` listener; each channel registers it (a second call only
    freezes what was made since the first)."""
    first = gc.get_freeze_count() == 0
    gc.freeze()
    if first:
        frozen = gc.get_freeze_count()
        logger.info("%d objects of the loaded server left out of garbage collection", frozen)

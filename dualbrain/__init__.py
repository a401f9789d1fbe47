"""dualbrain: a frozen reasoning network plus a trainable knowledge network for your own documents."""

import os

# Local and private by design: never let transformers/PEFT reach for a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from dualbrain.api import DualBrain  # noqa: E402  (after the offline switch, which must precede imports)
from dualbrain.library import Library  # noqa: E402

__all__ = ["DualBrain", "Library"]

"""Silence library chatter in dualbrain's processes: the command line's, and processes it spawns.

pypdf's recovery warnings, transformers' load bars and deprecation warnings raised inside libraries would
bury dualbrain's own one-line messages and progress bars.
"""

from __future__ import annotations

import logging
import warnings


def quiet_libraries() -> None:
    from transformers.utils import logging as hf_logging

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

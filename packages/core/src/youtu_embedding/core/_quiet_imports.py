"""Quieten import-time noise of optional third-party packages (imported first by the package).

transformers imports torchao when it is installed (the inductor runtime plugin needs it); torchao then
warns about CUDA-only kernels it cannot load on a CPU machine, and torch about torchao's Enum
constants, on every run of every command. Only loggers the application left unset are changed.
Loading a model draws transformers' "Loading weights" progress bar: :func:`no_progress_bars`
hides it (the core reports what it loaded itself).
"""

import contextlib
import logging
from collections.abc import Iterator

for _name in ("torchao", "torch.utils._pytree"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.ERROR)


@contextlib.contextmanager
def no_progress_bars() -> Iterator[None]:
    """Hide transformers' "Loading weights" bar while a model loads (re-enabled after, when it was on)."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()

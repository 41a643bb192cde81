"""Quieten import-time noise of optional third-party packages (imported first by the package).

transformers imports torchao when it is installed (the inductor runtime plugin needs it); torchao then
warns about CUDA-only kernels it cannot load on a CPU machine, and torch about torchao's Enum
constants, on every run of every command. Only loggers the application left unset are changed.
"""

import logging

for _name in ("torchao", "torch.utils._pytree"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.ERROR)

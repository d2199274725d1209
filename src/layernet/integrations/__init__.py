"""Bridges to other engines, each an optional extra imported only by its own module.

- :mod:`layernet.integrations.ray`: report ``fit``'s epochs to Ray Tune, with
  checkpoints it can restore (``pip install "layernet[ray]"``).

Data-parallel training over MPI is :mod:`layernet.distributed`.
"""

__all__: list[str] = []

"""tailbench's Hydra sweeper (``hydra/sweeper=tailbench``, the default in ``conf/hydra/default.yaml``)."""

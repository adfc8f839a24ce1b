"""Drop-in acceleration: the peers' own APIs, answered by medtrust's kernels.

Code written against a peer library changes one import line (or calls one ``patch()``) and
gets the same numbers from medtrust's Rust kernels:

=====================================  ==============================================
peer                                   shim
=====================================  ==============================================
``monai.metrics``                      :mod:`medtrust.compat.monai`
DeepMind ``surface_distance``          :mod:`medtrust.compat.surface_distance`
``torchmetrics.segmentation``          :mod:`medtrust.compat.torchmetrics`
fd-shifts ``analysis``                 :mod:`medtrust.compat.fd_shifts`
``torch_uncertainty.metrics``          :mod:`medtrust.compat.torch_uncertainty`
=====================================  ==============================================

Each shim module of an installable peer has ``patch()`` / ``unpatch()`` and a ``patched()``
context manager that swap the peer's functions and classes for the shim's (in the spirit of
scikit-learn-intelex's ``patch_sklearn()``) and report what they replaced. The peers themselves
are imported only inside ``patch()``; the shims never import them.

Examples
--------
>>> import torch
>>> from medtrust.compat import monai as mm
>>> y = torch.zeros(1, 2, 8, 8); y[:, 1, 2:6, 2:6] = 1; y[:, 0] = 1 - y[:, 1]
>>> mm.compute_dice(y, y)
tensor([[1., 1.]])
"""

__all__: list[str] = []

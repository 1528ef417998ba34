"""Training code (PyTorch): the only part of agegender that imports torch.

Nothing else in the package imports this subpackage; install torch to use it.
"""

"""`atri train`: sharegpt dataset → LoRA adapter in an immutable version folder.

`versions` (folder names, manifest, atomic publish) imports no torch, so the worker's
reload job can use it cheaply; `dataset` and `runner` do the training itself.
"""

"""`atri train`: sharegpt dataset → LoRA adapter in an immutable version folder.

`runner.train()` is the run, top to bottom; beside it, one module per step: `data_files`
(which files, checked and tokenized), `sharegpt` (the dataset files read and checked
into conversations, the held-out file found), `dataset` (conversations → tokens, packing),
`hardware` (device, precision, the base loaded to fit), `lora` (which layers get LoRA),
`run_folder` (checkpoints, lock and resume under `.runs/`), `publishing` (the finished
version), `errors`, and `progress`/`plots` for what the user sees. Version folders
themselves (names, manifest, atomic publish) are `model.adapters.versions`, which imports
no torch, so the worker's reload job can use it cheaply.
"""

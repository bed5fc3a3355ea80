"""`atri eval`: is the adapter more ATRI than the base?

Held-out perplexity, an in-character probe set checked by the OOC detector, and the
rate of ATRI's style markers; written as `eval.json` and `eval.md` into the version.
"""

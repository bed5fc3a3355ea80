"""From a visual-novel script to a clean two-person ATRI dataset.

Stages are plain functions over data (see `pipeline.py` for the order); reading files
and writing results happen only at the edges. Nothing here imports torch.
"""

from dataprep.errors import DataprepError
from dataprep.records import Role, Sample, Utterance

__all__ = ["DataprepError", "Role", "Sample", "Utterance"]

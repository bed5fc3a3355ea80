"""Example inputs shipped with dataprep (a package only so that wheels include them)."""

"""Run directories, figures and HTML reports (the only place besides the CLI that touches the file system)."""

from udl.report._run import Claim, Run, tensorboard_missing

__all__ = ["Claim", "Run", "tensorboard_missing"]

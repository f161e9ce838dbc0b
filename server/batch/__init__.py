"""Catalog batch: run a folder of images (and camera RAW files) through the model.

`plan` decides which files and where results go, `codec` reads and encodes files, `work` is the
per-file task (the same locally, in worker processes and on Dask), `store` writes results
atomically with a per-run manifest, `runner` drives a run, `progress` draws the progress bar.
"""

from server.batch.plan import BatchItem, NoImages, PlanError, plan_batch
from server.batch.runner import run_batch
from server.batch.store import Manifest, SettingsMismatch
from server.batch.work import BatchSettings

__all__ = [
    "BatchItem",
    "BatchSettings",
    "Manifest",
    "NoImages",
    "PlanError",
    "SettingsMismatch",
    "plan_batch",
    "run_batch",
]

"""Training backends of the AL loop (see :mod:`medtrust.active.trainers.base`)."""

from medtrust.active.trainers.base import CaseData, Predictor, Trainer, TrainingData

__all__ = ["CaseData", "Predictor", "Trainer", "TrainingData"]

"""nnU-Net trainer classes of medtrust, in a folder nnU-Net searches via ``nnUNet_extTrainer``.

nnU-Net looks trainer classes up by name when it loads a checkpoint; the AL loop points
``nnUNet_extTrainer`` at this folder so ``nnUNetTrainerMedtrust`` is found.
"""

from medtrust.active.trainers.nnunet import nnUNetTrainerMedtrust

__all__ = ["nnUNetTrainerMedtrust"]

"""Robustness of vision-language models in medical VQA (SURE-VQA).

- data: :func:`load_vqa` (SLAKE, OVQA, MIMIC-CXR-VQA, generic JSONL/Parquet),
  :func:`load_predictions`, :func:`validate_predictions`;
- shifts: :class:`Shift`, the seven :data:`PRESETS`, :func:`split_shift`;
- token metrics: :func:`normalize_answer`, :func:`token_scores`, :func:`token_metrics`; the
  SURE-VQA / LLaVA-Med definitions beside them (``surevqa_*`` names):
  :func:`surevqa_token_scores`, :func:`surevqa_token_metrics`;
- the LLM judge: :mod:`medtrust.vqa.judge` (:class:`JudgeConfig`, :func:`run_judge`,
  :func:`judge_frame`, :class:`JudgeCache`) and :func:`agreement` with human ratings;
- sanity baselines: :func:`ablate_image`, :func:`answer_prior`;
- inference and fine-tuning (``vqa`` extra): :mod:`medtrust.vqa.harness`,
  :mod:`medtrust.vqa.finetune`;
- robustness: :func:`robustness`, :func:`plot_robustness`; everything at once:
  :func:`evaluate`.

Examples
--------
>>> from medtrust import vqa
>>> vqa.token_scores("Two nodules", "2 nodules")["exact_match"]
1.0
>>> sorted(vqa.PRESETS)[:2]
['mimic_age', 'mimic_ethnicity']
"""

from medtrust.vqa.agreement import agreement, read_ratings
from medtrust.vqa.baselines import (
    BASELINES,
    IMAGE_BASELINES,
    ablate_image,
    answer_prior,
    parse_baseline,
)
from medtrust.vqa.data import (
    load_generic,
    load_mimic_cxr_vqa,
    load_ovqa,
    load_slake,
    load_vqa,
    validate_samples,
)
from medtrust.vqa.evaluate import EvaluationResult, evaluate
from medtrust.vqa.judge import (
    PROMPT_VERSION,
    JudgeCache,
    JudgeConfig,
    JudgeItem,
    JudgeRun,
    judge_frame,
    run_judge,
)
from medtrust.vqa.metrics import (
    METRIC_NAMES,
    closed_choice,
    normalize_answer,
    token_metrics,
    token_scores,
)
from medtrust.vqa.predictions import RUN_COLUMNS, load_predictions, validate_predictions
from medtrust.vqa.robustness import (
    RobustnessResult,
    load_scores,
    plot_robustness,
    relative_robustness,
    robustness,
)
from medtrust.vqa.shifts import (
    PRESETS,
    DataLeakageWarning,
    Shift,
    ShiftSplit,
    get_shift,
    split_shift,
)
from medtrust.vqa.surevqa_metrics import (
    SUREVQA_METRIC_NAMES,
    surevqa_normalize,
    surevqa_token_metrics,
    surevqa_token_scores,
)

__all__ = [
    "BASELINES",
    "IMAGE_BASELINES",
    "METRIC_NAMES",
    "PRESETS",
    "PROMPT_VERSION",
    "RUN_COLUMNS",
    "SUREVQA_METRIC_NAMES",
    "DataLeakageWarning",
    "EvaluationResult",
    "JudgeCache",
    "JudgeConfig",
    "JudgeItem",
    "JudgeRun",
    "RobustnessResult",
    "Shift",
    "ShiftSplit",
    "ablate_image",
    "agreement",
    "answer_prior",
    "closed_choice",
    "evaluate",
    "get_shift",
    "judge_frame",
    "load_generic",
    "load_mimic_cxr_vqa",
    "load_ovqa",
    "load_predictions",
    "load_scores",
    "load_slake",
    "load_vqa",
    "normalize_answer",
    "parse_baseline",
    "plot_robustness",
    "read_ratings",
    "relative_robustness",
    "robustness",
    "run_judge",
    "split_shift",
    "surevqa_normalize",
    "surevqa_token_metrics",
    "surevqa_token_scores",
    "token_metrics",
    "token_scores",
    "validate_predictions",
    "validate_samples",
]

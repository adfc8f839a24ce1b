"""Exceptions and warnings of medtrust.

Every error medtrust raises on bad input is a :class:`MedtrustError`, itself a ``ValueError``
(or additionally a ``TypeError`` for wrong types), so ``except ValueError`` keeps working. The
Rust core maps its errors onto these classes by name (``rust/python/src/errors.rs``); a Rust
panic surfaces as :class:`InternalError`, never as ``PanicException``.

Examples
--------
>>> import medtrust.selective as sel
>>> from medtrust.exceptions import EmptyInputError
>>> try:
...     sel.aurc([], [])
... except EmptyInputError as e:
...     print("empty!")
empty!
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "ConfigError",
    "DTypeError",
    "DataLeakageWarning",
    "DatasetError",
    "DeviceError",
    "EmptyInputError",
    "EngineError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidValueError",
    "JudgeError",
    "MedtrustError",
    "MedtrustWarning",
    "MissingExtraError",
    "NaNInputError",
    "PolarsPluginError",
    "QueryShortfallWarning",
    "ShapeMismatchError",
    "UndefinedMetricWarning",
    "VerdictParseError",
]


class MedtrustError(ValueError):
    """Base class of every medtrust input error."""


class EmptyInputError(MedtrustError):
    """An input that needs at least one element is empty."""


class ShapeMismatchError(MedtrustError):
    """Inputs that must agree in shape, length or spacing do not."""


class InvalidValueError(MedtrustError):
    """Data outside its domain: residuals outside [0, 1], negative labels, ..."""


class NaNInputError(InvalidValueError):
    """NaN (or inf) where the chosen ``nan_policy`` does not allow it."""


class InvalidArgumentError(MedtrustError):
    """An option (not data) outside its allowed values."""


class DTypeError(MedtrustError, TypeError):
    """An input of the wrong type or dtype (e.g. float label maps)."""


class DeviceError(MedtrustError):
    """A tensor on a device the function does not compute on (it never copies silently)."""


class ConfigError(MedtrustError):
    """An invalid experiment or evaluation configuration."""


class DatasetError(MedtrustError):
    """A dataset folder or file that does not follow the expected layout."""


class EngineError(MedtrustError):
    """The execution engine cannot run the work as configured.

    For example: Ray is not installed, the cluster is unreachable, or a worker cannot see the
    experiment folder.
    """


class JudgeError(MedtrustError):
    """The LLM judge could not be used as configured."""


class VerdictParseError(MedtrustError):
    """The LLM judge's reply is not a valid verdict."""


class PolarsPluginError(MedtrustError):
    """The medtrust polars plugin cannot run in the installed polars (``medtrust.polars``)."""


class MissingExtraError(MedtrustError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it.

    Raised by :func:`medtrust._extras.require` at the call that needs the package (e.g. a plot
    without matplotlib: ``pip install 'medtrust[plot]'``). Also an ``ImportError``, so code
    that guards an optional feature with ``except ImportError`` keeps working.
    """


class BackendError(Exception):
    """A failed judge request; ``status`` is the HTTP status (None for network errors).

    Not a :class:`MedtrustError`: it describes a remote service, not the caller's input. The
    judge runner retries :class:`~medtrust.vqa.judge.backends.TransientError` subclasses.
    """

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class InternalError(RuntimeError):
    """A bug inside medtrust (a caught Rust panic). Please report it."""


class MedtrustWarning(UserWarning):
    """Base class of medtrust warnings."""


class UndefinedMetricWarning(MedtrustWarning):
    """A metric is undefined for this input (e.g. AUROC with one class) and returns NaN."""


class DataLeakageWarning(MedtrustWarning):
    """Evaluation data shares images (or patients) with training data (VQA shifts)."""


class QueryShortfallWarning(MedtrustWarning):
    """An AL query (or one of its strata) got fewer patches than requested."""

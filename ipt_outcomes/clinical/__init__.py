"""Clinical significance, response and remission, dose-response and sudden gains."""

from .change import CATEGORIES, CHANGE_COLUMNS, clinical_change, jacobson_truax_cutoffs
from .dose import dose_response, improvement_by_session
from .sudden_gains import SUDDEN_GAIN_COLUMNS, sudden_gains
from .summary import number_needed_to_treat, odds_ratio, risk_difference, summarise_change, wilson_interval

__all__ = [
    "CATEGORIES",
    "CHANGE_COLUMNS",
    "SUDDEN_GAIN_COLUMNS",
    "clinical_change",
    "dose_response",
    "improvement_by_session",
    "jacobson_truax_cutoffs",
    "number_needed_to_treat",
    "odds_ratio",
    "risk_difference",
    "sudden_gains",
    "summarise_change",
    "wilson_interval",
]

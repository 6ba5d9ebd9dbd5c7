"""Beyond one machine: validation and growth-model fitting of partitioned Parquet with Dask.

Needs the ``dask`` extra: ``pip install "ipt-outcomes[dask]"``.
"""

from .partitioned import combine_statistics, fit_growth_partitioned, read_partitioned, validate_partitioned

__all__ = ["combine_statistics", "fit_growth_partitioned", "read_partitioned", "validate_partitioned"]

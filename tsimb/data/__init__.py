"""Data: loading UCR/UEA data sets (archive folders, bundled packages, downloads), the
imbalance protocols that make a training split imbalanced, and re-sampling (random,
SMOTE and its kin). Everything a chapter does to the data before a model sees it."""

from .archive import ARCHIVE_ENV, archive_datasets, archive_dirs, read_ts, read_ucr_tsv
from .datasets import (
    Dataset,
    DatasetUnavailableError,
    encode_labels,
    resample_to_length,
    validate_series,
    z_normalise,
)
from .digits import load_digits_pair
from .imbalance import (
    PROTOCOLS,
    Imbalance,
    binary_pair,
    class_halves,
    drop_half_of_classes,
    dropped_classes,
    exponential_imbalance,
    match_classes,
    step_imbalance,
    pooled_balanced_split,
)
from .resampling import (
    OVERSAMPLERS,
    TooFewSeriesError,
    oversample,
    random_resample_index,
)
from .sources import (
    archive_names,
    bundled_datasets,
    dataset_table,
    default_data_dir,
    is_cached,
    load_dataset,
    load_train_test,
)
from .votes import Votes  # noqa: E402

__all__ = ["Votes",
    "ARCHIVE_ENV", "archive_datasets", "archive_dirs", "read_ts", "read_ucr_tsv", "Dataset",
    "DatasetUnavailableError", "encode_labels", "resample_to_length", "validate_series", "z_normalise",
    "PROTOCOLS", "Imbalance", "binary_pair", "class_halves", "drop_half_of_classes", "dropped_classes", "exponential_imbalance", "pooled_balanced_split",
    "match_classes", "step_imbalance", "OVERSAMPLERS", "TooFewSeriesError", "oversample",
    "random_resample_index", "archive_names", "bundled_datasets", "dataset_table", "default_data_dir",
    "is_cached", "load_dataset", "load_train_test", "load_digits_pair",
]

"""06, part 7: the confusion matrix, the check shared with 04 (torch tensors in, counts out)."""

from __future__ import annotations

import functools

from ..concepts import classification
from ..probing import check

check("test_confusion_matrix", module=__name__)(functools.partial(
    classification.confusion_matrix_counts, fn="confusion_matrix", default_K=10, tensor=True))

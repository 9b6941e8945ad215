"""Errors that carry a message meant for the person running the pipeline."""

import errno


class ConfigurationError(ValueError):
    """A setting (environment variable or resource config) is missing or invalid."""


def is_disk_full(error: BaseException) -> bool:
    """Whether a full disk (ENOSPC) caused the error: as the OSError itself, or in the words of a library
    (DuckDB, pyarrow) that reports it as its own exception, or as the cause of one."""
    while error is not None:
        if (isinstance(error, OSError) and error.errno == errno.ENOSPC) or "No space left on device" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False

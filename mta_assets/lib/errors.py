"""Errors that carry a message meant for the person running the pipeline."""


class ConfigurationError(ValueError):
    """A setting (environment variable or resource config) is missing or invalid."""

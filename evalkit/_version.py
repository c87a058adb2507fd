"""The package's version (a leaf module, so any part of evalkit can name it without importing the rest)."""

__version__ = "0.1.0"

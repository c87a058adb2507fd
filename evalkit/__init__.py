"""evalkit: will this task survive the move from a closed model API to an open-weight model?"""

__version__ = "0.1.0"

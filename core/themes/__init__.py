"""Comment themes: matching comments to an operator's taxonomy, and finding recurring phrases it misses."""

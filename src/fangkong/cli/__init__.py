"""cli: the ``fangkong`` command."""

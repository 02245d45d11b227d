"""fangkong (防控): an outbreak prevention-and-control command platform."""

__version__ = "0.1.0"

"""Sleutelbos: an eHerkenning-style identity broker and authorization register."""

__version__ = "0.1.0"

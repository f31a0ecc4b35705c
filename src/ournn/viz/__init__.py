"""Seeing inside: model summary (shapes and parameter counts); plots and graphs need the
``viz`` extra (matplotlib) and are imported where used."""
from .summary import summary

__all__ = ["summary"]

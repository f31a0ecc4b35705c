"""Optimizers (filled in below)."""

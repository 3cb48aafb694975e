"""Batch scoring core shared by the batch-inference Lambda and local runs."""

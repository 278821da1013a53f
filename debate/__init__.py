"""Scalable oversight via debate, in JAX."""

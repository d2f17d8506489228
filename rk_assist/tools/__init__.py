"""The commands around the product: benchmarks, the eval, cache and model management.

On the top floor: they drive the service (or its stack) as a user would, and
nothing in the service imports them.
"""

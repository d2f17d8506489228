"""Runtimes: the engines that turn a prompt into text.

Every runtime implements :class:`rk_assist.runtimes.base.Runtime`; the rest of the
service only talks to that seam, through :class:`rk_assist.runtimes.worker.ModelWorker`.
"""

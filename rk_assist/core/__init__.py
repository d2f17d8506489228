"""The ctypes core: our own bindings to Rockchip's RKLLM runtime (librkllmrt.so)."""

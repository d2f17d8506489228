"""Print the pip requirements of some Home Assistant integrations and all they depend on."""

import json
import sys
from pathlib import Path

import homeassistant.components as components

root = Path(components.__path__[0])
seen: set[str] = set()
todo = list(sys.argv[1:])
requirements: set[str] = set()
while todo:
    domain = todo.pop()
    if domain in seen or not (root / domain / "manifest.json").exists():
        continue
    seen.add(domain)
    manifest = json.loads((root / domain / "manifest.json").read_text())
    requirements.update(manifest.get("requirements", []))
    todo += manifest.get("dependencies", []) + manifest.get("after_dependencies", [])
print("\n".join(sorted(requirements)))

"""The HTTP front: Ollama- and OpenAI-compatible APIs beside the Wyoming one."""

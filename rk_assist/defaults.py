"""The service's defaults, each defined once.

The option table (``config.py``) offers them to users; the settings objects
of the rooms below start from the same values, so a runtime built by a test
or a benchmark behaves like the service's.
"""

from __future__ import annotations

#: Wyoming's customary port for a handle/intent service (wyoming-openai, Home Assistant's docs).
WYOMING_PORT = 10500
#: Ollama's port: Home Assistant's Ollama integration suggests it.
HTTP_PORT = 11434
WYOMING_URI = f"tcp://0.0.0.0:{WYOMING_PORT}"
HTTP_URI = f"http://0.0.0.0:{HTTP_PORT}"
#: Where the command-line client finds a service on this machine.
LOCAL_WYOMING_URI = f"tcp://127.0.0.1:{WYOMING_PORT}"

#: Tokens of context when neither the model nor the user says: what a voice turn with a
#: home of ~50 devices needs.
CONTEXT_LENGTH = 4096
#: The longest context an RKLLM model can be converted with; contexts are multiples of 32.
RKLLM_MAX_CONTEXT = 16384
#: The longest answer, in tokens.
MAX_NEW_TOKENS = 256

TEMPERATURE = 0.2
TOP_P = 0.9
TOP_K = 40

#: The longest transcript accepted, in characters.
MAX_TEXT_CHARS = 2000
#: Requests that may wait while the model is busy.
QUEUE_SIZE = 4
#: Past turns remembered per conversation, and the seconds of silence that end one.
HISTORY_TURNS = 8
HISTORY_IDLE_S = 300.0
#: Seconds a Wyoming connection may stay silent while no answer runs, and one event may take.
IDLE_TIMEOUT_S = 120.0
READ_TIMEOUT_S = 10.0
#: Seconds answers under way get to finish when the service stops (SIGTERM); then they are
#: ended (a Wyoming turn with a spoken not-handled).
STOP_GRACE_S = 3.0
#: Seconds after which a stop that has not finished ends the process regardless.
STOP_LIMIT_S = 5.0

"""Home control: the exposed home, intents as tools, tool calls checked before acting."""

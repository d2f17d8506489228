"""The assistant pipeline: prompt, conversation memory, and speech-ready streaming."""

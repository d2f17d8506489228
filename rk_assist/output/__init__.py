"""What the model wrote, read: the words that may be spoken and the calls it made.

Below the home and the assistant, beside nothing: every door that shows the
model's text to a person (Wyoming, HTTP, the eval) reads it here.
"""

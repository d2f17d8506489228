"""Errors a handler raises; the server's middleware turns each into an answer with a status."""

from __future__ import annotations


class HttpError(Exception):
    """An answer with this status and message, written in the API's own dialect."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class ModelNotFoundError(LookupError):
    """A request named a model the library does not hold (an HTTP 404)."""

"""One root for every error rk-assist raises, and what each makes a voice turn say."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from rk_assist import errors
from rk_assist.home.phrases import LANGUAGES, PHRASES
from rk_assist.http.front import error_answer

ERRORS = [
    value
    for value in vars(errors).values()
    if inspect.isclass(value) and issubclass(value, BaseException)
]


def test_every_error_is_under_the_root_and_says_a_known_phrase():
    assert len(ERRORS) > 10
    for error in ERRORS:
        assert issubclass(error, errors.RkAssistError), error
        for language in LANGUAGES:
            assert error.said in PHRASES[language], (error, language)


def test_what_a_turn_says_follows_the_error():
    assert errors.BusyError("x").said == "busy"
    assert errors.PromptTooLongError("x").said == "too_long"
    assert errors.RkllmCallError("rkllm_run", -1).said == "failed"  # a RuntimeFailure


def test_no_public_error_class_outside_errors_py():
    """An error a door may see is defined in errors.py; private helpers may stay put."""
    package = Path(errors.__file__).parent
    elsewhere = []
    for path in package.rglob("*.py"):
        if path == Path(errors.__file__):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
                continue
            bases = {getattr(base, "id", getattr(base, "attr", "")) for base in node.bases}
            if any(base.endswith(("Error", "Exception", "Failure")) for base in bases):
                elsewhere.append(f"{path.relative_to(package)}:{node.name}")
    assert elsewhere == []


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (errors.RequestError("messages", "required"), 400, "messages: required"),
        (errors.PromptTooLongError("too long"), 400, "too long"),
        (errors.ModelNotFoundError("no such model"), 404, "no such model"),
        (errors.BusyError("4 waiting"), 503, "the model is busy: 4 waiting; try again shortly"),
        (errors.RkllmCallError("rkllm_run", -1), 500, "rkllm_run failed (code -1)"),
        (errors.HttpError(403, "only this machine"), 403, "only this machine"),
        (KeyError("a bug"), 500, "internal error: KeyError"),
    ],
)
def test_the_http_door_answers_each_error_with_its_status(error, status, message):
    assert error_answer(error) == (status, message)

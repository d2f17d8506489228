"""An order to open or unlock that names nothing plainly is told, in six languages."""

from __future__ import annotations

import pytest

from rk_assist.home.sensitive_orders import sensitive_order


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "unlock the door"),
        ("en", "open it"),
        ("en", "let me in"),
        ("de", "Mach sie auf"),
        ("de", "Schließ bitte auf"),
        ("de", "Öffne alle Tore"),
        ("fr", "Ouvre-la"),
        ("fr", "Déverrouille, s'il te plaît"),
        ("es", "Abre la puerta"),
        ("es", "Echa la llave"),
        ("it", "Sblocca tutto"),
        ("it", "Apri la porta"),
        ("nl", "Ontgrendel alles"),
        ("nl", "Doe de deur open"),
    ],
)
def test_an_order_to_open_or_unlock(language, text):
    assert sensitive_order(text, language)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "turn on the kitchen light"),
        ("en", "tell me a joke"),
        ("de", "Mach das Licht an"),
        ("fr", "Allume la lumière"),
        ("es", "Enciende la luz del salón"),
        ("it", "Accendi la luce"),
        ("nl", "Zet de lamp aan"),
    ],
)
def test_other_requests_are_no_such_order(language, text):
    assert not sensitive_order(text, language)

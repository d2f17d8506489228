from rk_assist.assistant.chunker import ClauseChunker


def chunk_all(pieces: list[str], **kwargs) -> list[str]:
    chunker = ClauseChunker(**kwargs)
    chunks: list[str] = []
    for piece in pieces:
        chunks.extend(chunker.feed(piece))
    return chunks + chunker.finish()


def tokens(text: str) -> list[str]:
    """Split like a BPE tokenizer would: words carry their leading space."""
    pieces, current = [], ""
    for char in text:
        if char == " " and current:
            pieces.append(current)
            current = ""
        current += char
    return [*pieces, current]


def test_first_chunk_at_first_clause_then_sentences():
    text = "Sure, the kitchen light is off. Anything else, or are we done? Bye."
    chunks = chunk_all(tokens(text))
    assert chunks == [
        "Sure, ",
        "the kitchen light is off. ",
        "Anything else, or are we done? ",
        "Bye.",
    ]
    assert "".join(chunks) == text


def test_first_chunk_leaves_as_soon_as_clause_is_complete():
    chunker = ClauseChunker()
    assert chunker.feed("Sure,") == []  # the boundary is confirmed by what follows
    assert chunker.feed(" the") == ["Sure, "]


def test_decimals_abbreviations_and_list_numbers_do_not_split():
    text = "It is 3.5 degrees, e.g. cold. Dr. Smith agrees."
    chunks = chunk_all(tokens(text))
    assert chunks == ["It is 3.5 degrees, ", "e.g. cold. ", "Dr. Smith agrees."]
    listing = chunk_all(["Buy:\n1. Milk\n2. Eggs"])
    assert "".join(listing) == "Buy:\n1. Milk\n2. Eggs"
    assert not any(chunk.strip() in ("1.", "2.") for chunk in listing)


def test_long_sentences_break_at_clauses_after_the_first_chunk():
    long = "One, " + "word " * 30 + "then, more words here. End."
    chunks = chunk_all(tokens(long), long_sentence_chars=40)
    assert "".join(chunks) == long
    assert len(chunks) >= 3


def test_newlines_are_boundaries_and_empty_input_gives_nothing():
    assert chunk_all(["Line one\nLine two"]) == ["Line one\n", "Line two"]
    assert chunk_all(["", "  "]) == []

"""Real Hugging Face tokenizer files, rebuilt from the embedded model's GGUF.

No model hub is reachable here, but the GGUF carries the whole tokenizer
(vocabulary, merges, special tokens, chat template); written out in the
``tokenizers`` format it is the same tokenizer, token for token.
"""

from __future__ import annotations

import json
from pathlib import Path

from gguf import GGUFReader
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

from rk_assist.runtimes.embedded import embedded_model_path

SPECIAL_TOKEN_TYPE = 3  # llama.cpp's LLAMA_TOKEN_TYPE_CONTROL


def _field(reader: GGUFReader, name: str):
    field = reader.fields[name]
    values = [field.parts[index] for index in field.data]
    if field.types[-1].name == "STRING":
        return [bytes(value).decode("utf-8") for value in values]
    return [value[0] for value in values]


def write_tokenizer_files(folder: Path, chat_template: str | None = None) -> Path:
    reader = GGUFReader(str(embedded_model_path()))
    tokens = _field(reader, "tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in _field(reader, "tokenizer.ggml.merges")]
    types = _field(reader, "tokenizer.ggml.token_type")
    tokenizer = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(
        [
            AddedToken(t, special=True)
            for t, kind in zip(tokens, types, strict=True)
            if kind == SPECIAL_TOKEN_TYPE
        ]
    )
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    bos = tokens[int(_field(reader, "tokenizer.ggml.bos_token_id")[0])]
    eos = tokens[int(_field(reader, "tokenizer.ggml.eos_token_id")[0])]
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": bos,
        "eos_token": eos,
        "chat_template": chat_template or _field(reader, "tokenizer.chat_template")[0],
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder

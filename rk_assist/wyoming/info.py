"""What ``describe`` answers: a handle program that streams its answers."""

from __future__ import annotations

from wyoming.info import Attribution, HandleModel, HandleProgram, Info, IntentModel, IntentProgram

from .. import __version__

PROJECT_ATTRIBUTION = Attribution(name="rk-assist", url="https://github.com/rk-assist/rk-assist")
RUNTIME_ATTRIBUTIONS = {
    "llama.cpp": Attribution(name="llama.cpp", url="https://github.com/ggml-org/llama.cpp"),
    "rkllm": Attribution(name="Rockchip RKLLM", url="https://github.com/airockchip/rknn-llm"),
}
EMBEDDED_ATTRIBUTION = Attribution(
    name="Hugging Face SmolLM2", url="https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct"
)


def build_info(
    model_name: str,
    runtime_name: str,
    languages: list[str],
    embedded: bool = False,
    home_control: bool = False,
    getting_ready: str | None = None,
) -> Info:
    """A handle program; with home control, also an intent program.

    Home Assistant grants the CONTROL feature to an agent with an intent
    program, and from 2026.6 on to a handle program that says
    ``supports_home_control``. While the model the user chose is still being
    fetched (``getting_ready``) the description says so; the program stays
    "installed", or Home Assistant's discovery would find nothing to add.
    """
    model_attribution = (
        EMBEDDED_ATTRIBUTION
        if embedded
        else RUNTIME_ATTRIBUTIONS.get(runtime_name, PROJECT_ATTRIBUTION)
    )
    # The same model behind both programs. Languages are explicit: an empty
    # list means "no language" to Home Assistant.
    model = {
        "name": model_name,
        "attribution": model_attribution,
        "installed": True,
        "description": getting_ready or f"{model_name} on {runtime_name}",
        "version": None,
        "languages": list(languages),
    }
    return Info(
        handle=[
            HandleProgram(
                name="rk-assist",
                attribution=PROJECT_ATTRIBUTION,
                installed=True,
                description="Local voice assistant with a small language model",
                version=__version__,
                models=[HandleModel(**model)],
                supports_handled_streaming=True,
                supports_home_control=home_control,
            )
        ],
        intent=[
            IntentProgram(
                name="rk-assist",
                attribution=PROJECT_ATTRIBUTION,
                installed=True,
                description="Home control through a language model's tool calls",
                version=__version__,
                models=[IntentModel(**model)],
            )
        ]
        if home_control
        else [],
    )

"""The providers of one job in fallback order, built from the settings.

An unavailable provider (unreachable, key refused, model not served, failing on its side) is set aside
for the rest of the job and the next one in `AUTOFIX_PROVIDERS` takes over, mid-attempt if need be.
"""

from __future__ import annotations

from app.settings import Settings, SettingsError
from jobs.patch.llm import AnthropicProvider
from jobs.patch.openai_compat import OpenAICompatProvider
from jobs.patch.provider import Provider


class ProviderChain:
    def __init__(self, providers: list[Provider]) -> None:
        self.providers = providers
        self.down: dict[str, str] = {}

    def current(self) -> Provider | None:
        return next((p for p in self.providers if p.name not in self.down), None)

    def mark_down(self, provider: Provider, why: str) -> None:
        self.down.setdefault(provider.name, why)

    def why_none(self) -> str:
        return "; ".join(f"{name}: {why}" for name, why in self.down.items()) or "no provider configured"

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()


def build_chain(settings: Settings) -> ProviderChain:
    """The configured providers in `AUTOFIX_PROVIDERS` order; SettingsError names what one is missing."""
    providers: list[Provider] = []
    for name in settings.autofix_providers.split(","):
        if name == "anthropic":
            settings.require("anthropic_api_key", needed_by="the anthropic provider")
            assert settings.anthropic_api_key is not None
            providers.append(
                AnthropicProvider(
                    api_key=settings.anthropic_api_key.get_secret_value(),
                    base_url=settings.anthropic_base_url,
                    model=settings.autofix_model,
                )
            )
        else:
            settings.require(
                "openai_compat_base_url", "openai_compat_model", needed_by="the openai-compat provider"
            )
            assert settings.openai_compat_base_url is not None
            assert settings.openai_compat_model is not None
            key = settings.openai_compat_api_key
            providers.append(
                OpenAICompatProvider(
                    base_url=settings.openai_compat_base_url,
                    model=settings.openai_compat_model,
                    api_key=key.get_secret_value() if key is not None else None,
                )
            )
    if not providers:
        raise SettingsError("AUTOFIX_PROVIDERS names no provider")
    return ProviderChain(providers)

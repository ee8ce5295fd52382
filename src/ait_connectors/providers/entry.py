"""``CatalogueEntry``: a :class:`ProviderSpec` as a catalogue file must state it.

A spec built in code (a test, a sandbox) may leave out where its facts come from; an entry of a
shipped catalogue file may not: it names its category, its documentation and its provenance, and
every URL it gives is HTTPS (``allow_http = true`` is for test catalogues on loopback only).
"""

from __future__ import annotations

from pydantic import Field, HttpUrl, model_validator

from .spec import Category, Provenance, ProviderSpec

__all__ = ["URL_FIELDS", "CatalogueEntry"]

URL_FIELDS = ("authorize_url", "token_url", "revoke_url", "api_base_url", "docs_url")


class CatalogueEntry(ProviderSpec):
    """One entry of a catalogue file: ``category``, ``docs_url`` and ``provenance`` required."""

    category: Category
    docs_url: HttpUrl
    provenance: Provenance
    # How the file's URLs were checked, not a fact of the provider: never in a dump, so a dumped
    # entry reads back as a plain ProviderSpec (the refresh race workers rebuild specs so).
    allow_http: bool = Field(default=False, exclude=True)

    @model_validator(mode="after")
    def _https_only(self) -> CatalogueEntry:
        if self.allow_http:
            return self
        urls = {name: getattr(self, name) for name in URL_FIELDS}
        urls["provenance.url"] = self.provenance.url
        plain = [name for name, url in urls.items() if url is not None and url.scheme != "https"]
        if plain:
            raise ValueError(
                f"{', '.join(plain)} must use https (set allow_http = true only in a test "
                "catalogue)"
            )
        return self

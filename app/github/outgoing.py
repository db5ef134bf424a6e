"""Everything the App writes for people to read passes through here on its way to GitHub.

Comments, pull request bodies and check run output may carry words a model wrote after reading
untrusted text. Links and images outside the repository are neutralised (links become inline code,
images are dropped), so a poisoned answer cannot leak data through an image URL GitHub would fetch
or lure a reviewer off-site (checklist G7, the CamoLeak pattern). Doing it at the edge covers every
writer, present and future.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox_runner.untrusted import limit_links, web_host

if TYPE_CHECKING:
    from app.github.client import Installation


def outgoing(inst: Installation, owner: str, repo: str, text: str) -> str:
    return limit_links(text, f"{owner}/{repo}", web_host(inst.app.settings.github_api_url))

"""Per-repository flags on a real Redis: pause (per repo and global), ignored fingerprints, open PRs."""

from __future__ import annotations

from redis.asyncio import Redis

from app.repo_state import RepoState, set_global_pause


async def test_pause_per_repo_and_globally(redis: Redis) -> None:
    one, two = RepoState(redis, 1), RepoState(redis, 2)
    await one.set_paused(True)
    assert (await one.paused(), await two.paused()) == (True, False)
    await set_global_pause(redis, True)
    assert await two.paused()
    await set_global_pause(redis, False)
    await one.set_paused(False)
    assert not await one.paused()


async def test_ignored_fingerprints_and_open_prs(redis: Redis) -> None:
    state = RepoState(redis, 1)
    await state.ignore("v1:aa")
    assert await state.is_ignored("v1:aa")
    assert not await RepoState(redis, 2).is_ignored("v1:aa")
    for n in (3, 4, 4):
        await state.add_open_pr(n)
    await state.remove_open_pr(3)
    assert await state.open_prs() == 1

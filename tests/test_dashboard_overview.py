"""The overview: the pure builder over known counters, the SVG charts, and the page and /api/overview
showing exactly the numbers seeded into Redis through app.stats, the job store and the queue."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app import stats
from app.dashboard.charts import render_bar_chart
from app.dashboard.overview import OverviewFacts, build_overview, render_duration
from app.repo_state import set_global_pause
from app.stats import Counts, DayStats
from jobs import names
from tests.test_dashboard_support import dash_settings, dashboard_client, seed_record, sign_in


def day(name: str, **counters: float) -> DayStats:
    return DayStats(name, {k.replace("__", ":"): v for k, v in counters.items()})


def test_the_builder_counts_today_the_month_and_thirty_days() -> None:
    october = [DayStats(f"2026-10-{d:02d}") for d in range(21, 32)]
    november = [DayStats(f"2026-11-{d:02d}") for d in range(1, 21)]
    days = october + november  # 31 days, as the reader fetches them: a whole month always fits
    days[0] = day("2026-10-21", proven=50, jobs__fix_check_run=50)  # 31 days back: outside the window
    days[-5] = DayStats("2026-11-16", {"jobs:fix_check_run": 4, "outcome:fix_check_run:skipped": 1,
                                       "proven": 2, "prs:merged": 1, "dollars:m": 1.5, "tokens:m": 900},
                        time_to_pr=[100, 300])  # fmt: skip
    days[-1] = DayStats("2026-11-20", {"jobs:fix_issue": 2, "jobs:run_command": 3, "proven": 1,
                                       "outcome:fix_issue:pr_opened": 2, "prs:closed": 2, "prs:opened": 2,
                                       "dollars:m": 0.25, "dollars:n": 0.5, "tokens:m": 100},
                        time_to_pr=[50])  # fmt: skip
    facts = OverviewFacts("2026-11-20", days, running=2, queued=3, queue_depth=5,
                          workers=[{"id": "w1"}, {"id": "w2"}], budget_day=10.0)  # fmt: skip

    o = build_overview(facts)

    assert o["done_today"] == 5
    assert o["proven"] == {"proven": 3, "attempted": 5, "rate": 0.6}  # (4 - 1 skipped) + 2 issue jobs
    assert o["prs"] == {"opened": 2, "merged": 1, "closed": 2}
    assert o["time_to_pr_median_s"] == 100
    assert o["spend_today"] == {"dollars": 0.75, "tokens": 100, "budget": 10.0}
    assert o["spend_month"] == {"dollars": 2.25, "tokens": 1000, "budget": None}
    assert (o["running"], o["queued"], o["queue_depth"], o["workers"]["alive"]) == (2, 3, 5, 2)
    assert len(o["charts"]["jobs"]) == 30
    assert o["charts"]["jobs"][-1] == {"day": "2026-11-20", "outcomes": {"pr_opened": 2}}
    assert o["charts"]["spend"][-5] == {"day": "2026-11-16", "dollars": 1.5}


def test_nothing_recorded_is_shown_as_nothing_not_as_zero_percent() -> None:
    o = build_overview(OverviewFacts("2026-11-20", [DayStats("2026-11-20")]))
    assert o["proven"]["rate"] is None
    assert o["time_to_pr_median_s"] is None
    assert render_duration(None) == "—"


@pytest.mark.parametrize(("seconds", "shown"), [(5, "5 s"), (95, "1 min 35 s"), (7322, "2 h 2 min")])
def test_durations_read_as_people_say_them(seconds: float, shown: str) -> None:
    assert render_duration(seconds) == shown


def test_the_chart_stacks_bars_and_escapes_every_name() -> None:
    svg = render_bar_chart("chart-x", "A <title>", ["d1", "d2"], [{"ok": 2, "<b>": 1}, {"ok": 3}])
    assert svg.startswith('<svg data-testid="chart-x"')
    assert "<b>" not in svg
    assert "&lt;b&gt;" in svg
    bars = re.findall(
        r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" fill="[^"]+" data-day', svg
    )
    assert len(bars) == 3
    assert max(float(h) for h in bars) == pytest.approx(136.0)  # the tallest day's whole bar is the top


async def test_the_overview_shows_the_seeded_numbers(redis: Redis, redis_url: str, tmp_path: Path) -> None:
    now = time.time()
    today, earlier = stats.day_of(now), stats.day_of(now - 3 * 86_400)
    seeded = [
        (today, {"jobs:fix_check_run": 1, "outcome:fix_check_run:pr_opened": 1, "proven": 1, "prs:opened": 1,
                 "dollars:claude": 0.75, "tokens:claude": 1200}),
        (today, {"jobs:fix_check_run": 1, "outcome:fix_check_run:unproven": 1, "dollars:claude": 0.5,
                 "tokens:claude": 800}),
        (earlier, {"jobs:fix_issue": 1, "outcome:fix_issue:pr_opened": 1, "proven": 1, "prs:merged": 1,
                   "prs:closed": 0, "dollars:claude": 2.0, "tokens:claude": 3000}),
    ]  # fmt: skip
    for i, (d, counters) in enumerate(seeded):
        counts = Counts()
        for name, n in counters.items():
            counts.add(d, name, n)
        assert await stats.apply(redis, counts, once=f"job:{i}")
    await stats.add_time_to_pr(redis, 120.0, now=now)
    await stats.add_time_to_pr(redis, 480.0, now=now)
    await stats.heartbeat(redis, "worker-a", {"queue": names.FIX_QUEUE}, now=now)
    await stats.heartbeat(redis, "worker-gone", {}, now=now - 10 * stats.ALIVE_S)
    await seed_record(redis, "check:running", running=True)
    await redis.zadd(names.FIX_QUEUE, {"check:running": now * 1000, "check:waiting": now * 1000,
                                        "check:later": (now + 3600) * 1000})  # fmt: skip
    await redis.zadd(names.COMMAND_QUEUE, {"cmd:1": now * 1000})
    await set_global_pause(redis, True)

    async with dashboard_client(dash_settings(redis_url, tmp_path), redis_url) as client:
        await sign_in(client)
        o = (await client.get("/api/overview")).json()
        page = (await client.get("/dashboard")).text

    month_dollars = 0.75 + 0.5 + (2.0 if earlier[:7] == today[:7] else 0)
    assert o["done_today"] == 2
    assert o["proven"] == {"proven": 2, "attempted": 3, "rate": round(2 / 3, 4)}
    assert o["prs"] == {"opened": 1, "merged": 1, "closed": 0}
    assert o["time_to_pr_median_s"] == 300.0
    assert o["spend_today"] == {"dollars": 1.25, "tokens": 2000, "budget": None}
    assert o["spend_month"]["dollars"] == month_dollars
    assert (o["running"], o["queued"], o["queue_depth"]) == (1, 2, 4)  # 3 ready, 1 of them running
    assert o["workers"] == {"alive": 1, "ids": ["worker-a"]}
    assert o["paused"] is True

    def tile(name: str) -> str:
        found = re.search(rf'data-testid="tile-{name}">\s*<b>(.*?)</b>', page, re.S)
        assert found, name
        return found.group(1).strip()

    assert tile("running") == "1"
    assert tile("queued") == "2"
    assert tile("done-today") == "2"
    assert tile("proven-rate") == "66.7%"
    assert tile("prs") == "1 / 0"
    assert tile("ttp") == "5 min 0 s"
    assert tile("spend-today") == "$1.25"
    assert tile("spend-month") == f"${month_dollars:,.2f}"
    assert tile("workers") == "1"
    assert tile("queue-depth") == "4"
    assert 'data-testid="paused-banner"' in page
    assert page.count('<svg data-testid="chart-jobs"') == 1
    assert page.count('<svg data-testid="chart-spend"') == 1
    assert f'data-day="{today}" data-series="pr_opened"' in page

"""The catalog as the API serves it: ``python -m workers.catalog_view`` prints one JSON object
``{"tracks": [...as library list --json...], "moods": [...the mood words --mood takes...]}``.

The API runs it in a child process (the catalog code needs numpy; the API process never imports it), at most
one at a time, and caches the answer (:class:`workers.http_api` ``_CatalogCache``).
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    from core.env import env_setting
    from core.errors import MoodmixError
    from library.catalog import default_catalog
    from models.track_emotion import MOOD_VA
    from models.types import LABELS

    try:
        tracks = default_catalog(env_setting("MOODMIX_DATABASE_URL")).tracks()
    except MoodmixError as exc:
        print(f"moodmix: error: {exc}", file=sys.stderr)
        return 1
    tags = {t.strip().lower() for tr in tracks for t in tr.tags if t.strip()}
    out = {
        "tracks": [{**t.to_dict(), "derived_from": t.derived_from} for t in tracks],
        "moods": sorted(set(MOOD_VA) | set(LABELS) | tags),
    }
    sys.stdout.write(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

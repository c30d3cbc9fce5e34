"""Marking known exploited vulnerabilities from CISA's KEV catalogue (JSON).

The catalogue is ``{"vulnerabilities": [{"cveID": "CVE-2018-7600", ...}, ...]}``. It adds no
record: it sets ``known_exploited`` on the records of the database whose id or an alias is listed.
"""

from __future__ import annotations

import json
from pathlib import Path

from exporters.vulndb.model import Database, VulnDbError


def read_kev(path: str | Path) -> set[str]:
    try:
        catalogue = json.loads(Path(path).read_text(encoding="utf-8"))
        return {str(entry["cveID"]) for entry in catalogue["vulnerabilities"]}
    except OSError as exc:
        raise VulnDbError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise VulnDbError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    except (KeyError, TypeError):
        raise VulnDbError(f"{path}: expected the KEV catalogue, "
                          "{\"vulnerabilities\": [{\"cveID\": ...}]}") from None


def mark_exploited(database: Database, cves: set[str]) -> tuple[Database, int]:
    """``database`` with ``known_exploited`` set where listed, and how many records changed."""
    changed, records = 0, []
    for record in database.vulnerabilities:
        listed = record.id in cves or any(alias in cves for alias in record.aliases)
        if listed and not record.known_exploited:
            record = record.model_copy(update={"known_exploited": True})
            changed += 1
        records.append(record)
    return database.model_copy(update={"vulnerabilities": records}), changed

"""The pages' texts are all in the French catalogue, and the compiled catalogue the bridge reads
is the one the translations say (scripts/catalogue.sh makes both)."""

from __future__ import annotations

import io
import pathlib
import subprocess
import sys

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

REPO = pathlib.Path(__file__).resolve().parent.parent
WEB = REPO / "sla_bridge" / "web"
FRENCH = WEB / "translations" / "fr" / "LC_MESSAGES"


def french_catalogue():
    with open(FRENCH / "messages.po", "rb") as handle:
        return read_po(handle, locale="fr")


def extracted_texts(tmp_path) -> set[str]:
    template = tmp_path / "messages.pot"
    pybabel = pathlib.Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "-q", "extract", "-F", str(WEB / "babel.cfg"), "-k", "_l",
                    "-o", str(template), "."], cwd=REPO, check=True)
    with open(template, "rb") as handle:
        return {message.id if isinstance(message.id, str) else message.id[0]
                for message in read_po(handle) if message.id}


def test_every_text_of_the_pages_has_a_french_translation(tmp_path):
    catalogue = french_catalogue()
    translated = {(message.id if isinstance(message.id, str) else message.id[0])
                  for message in catalogue if message.id and message.string
                  and not message.fuzzy}
    missing = sorted(extracted_texts(tmp_path) - translated)
    assert missing == [], f"not translated in {FRENCH / 'messages.po'}: {missing}"


def test_the_catalogue_keeps_no_text_the_pages_no_longer_use(tmp_path):
    used = extracted_texts(tmp_path)
    unused = sorted((message.id if isinstance(message.id, str) else message.id[0])
                    for message in french_catalogue() if message.id
                    and (message.id if isinstance(message.id, str) else message.id[0]) not in used)
    assert unused == [], "run scripts/catalogue.sh to drop them"


def test_the_compiled_catalogue_is_the_translations(tmp_path):
    compiled = io.BytesIO()
    write_mo(compiled, french_catalogue())
    assert (FRENCH / "messages.mo").read_bytes() == compiled.getvalue(), \
        "run scripts/catalogue.sh compile"

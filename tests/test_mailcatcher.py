"""The demo's mail catcher (``owl demo mail``), run for real on 127.0.0.1 and sent mail by smtplib:
one complete .eml file per message in STATE/mail/, with its envelope."""

import email
import email.policy
import smtplib
import socket
import subprocess
import sys
from email.message import EmailMessage

import pytest

from owl.inventory import Smtp
from owl_commands.mailcatcher import refusal
from tests.support.processes import free_port, running, wait_for_http

SUBJECT = "[OWL SYSTEMS] Maintenance planifiée du 14/07/2025 à 22:00 : mise à jour sécurité"
BODY = "Bonjour Démo Boutique,\n\nNous procéderons à une opération sur vos serveurs.\n-- \nOWL\n"


@pytest.fixture
def catcher(tmp_path):
    """``owl demo mail`` on free ports; yields (SMTP port, mail folder)."""
    port, health = free_port(), free_port()
    args = [sys.executable, "-m", "owl_commands.cli", "demo", "mail", "--smtp.listen-address",
            f"127.0.0.1:{port}", "--web.listen-address", f"127.0.0.1:{health}",
            "--state", str(tmp_path / "state")]
    with running(args, tmp_path / "mail.log") as process:
        wait_for_http(f"http://127.0.0.1:{health}/healthz", timeout=15, process=process,
                      ok=lambda response: response.status_code == 200)
        yield port, tmp_path / "state" / "mail"


def send(port: int, subject: str, recipients: list[str]) -> None:
    message = EmailMessage()
    message["From"] = "monitoring@owl-systems.example"
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(BODY)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as relay:
        relay.send_message(message)


def parsed(path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_each_message_is_one_complete_eml_file_with_its_envelope(catcher):
    port, folder = catcher
    recipients = ["contact@demo-boutique.example", "direction@demo-boutique.example"]
    send(port, SUBJECT, recipients)
    [first] = list(folder.glob("*.eml"))
    message = parsed(first)
    assert message["Subject"] == SUBJECT
    # kept as received: lines end with CRLF, as RFC 5322 and the SMTP wire have them
    assert message.get_content() == BODY.replace("\n", "\r\n")
    assert message["To"] == ", ".join(recipients)
    assert message["X-MailFrom"] == "monitoring@owl-systems.example"
    assert message["X-RcptTo"] == ", ".join(recipients)

    send(port, "Deuxième message", ["astreinte@owl-systems.example"])
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 2 and files[0] == first
    assert parsed(files[1])["Subject"] == "Deuxième message"
    assert parsed(files[1])["X-RcptTo"] == "astreinte@owl-systems.example"
    assert sorted(folder.iterdir()) == files  # no temporary file left behind


def test_owl_up_runs_a_catcher_only_where_it_can_listen():
    assert refusal(Smtp(host="127.0.0.1", port=free_port())) is None
    assert "not a loopback IP address" in refusal(Smtp(host="smtp.example", port=25))
    assert "not a loopback IP address" in refusal(Smtp(host="192.0.2.10", port=25))
    assert "STARTTLS or a login" in refusal(Smtp(port=free_port(), starttls=True))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert f"cannot listen on 127.0.0.1:{port}" in refusal(Smtp(host="127.0.0.1", port=port))


def test_the_inbox_lists_each_message_with_its_console_links_decoded(catcher, tmp_path):
    """A real catcher, a message sent over SMTP the way Alertmanager sends its pages: HTML and
    text, quoted-printable, so that a long link is cut across lines in the file."""
    port, folder = catcher
    link = "http://127.0.0.1:9180/incidents/fingerprint/474d0c0fe39614f8"
    message = EmailMessage()
    message["From"] = "monitoring@owl-systems.example"
    message["To"] = "astreinte@owl-systems.example"
    message["Subject"] = "[OWL SYSTEMS] Incident critique – SiteDown – client demo, site shop"
    # the link starts at column 41 of a line quoted-printable cuts at 76
    message.set_content("Ouvrir l'incident : " + "y" * 20 + " " + link, cte="quoted-printable")
    message.add_alternative(f'<p>Échéance … <a href="{link}">Ouvrir</a></p>', subtype="html",
                            cte="quoted-printable")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as relay:
        relay.send_message(message)
    assert link not in next(folder.glob("*.eml")).read_text()  # as in the file: cut

    listed = subprocess.run([sys.executable, "-m", "owl_commands.cli", "demo", "inbox",
                             "--state", str(folder.parent)], capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].endswith(".eml  to astreinte@owl-systems.example")
    assert lines[1].strip() == message["Subject"]
    assert lines[2:] == [f"  {link}"]  # once, though both parts hold it


def test_the_inbox_of_a_state_without_mail_says_so(tmp_path):
    listed = subprocess.run([sys.executable, "-m", "owl_commands.cli", "demo", "inbox",
                             "--state", str(tmp_path)], capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0
    assert listed.stdout.strip() == f"no mail caught in {tmp_path / 'mail'}"

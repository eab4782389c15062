"""Actions — gift certificate events can trigger automated email notifications. Each workspace
starts with sensible defaults; staff edit subject and text with placeholders and a preview."""

from __future__ import annotations

import pytest
from sqlmodel import select

from giftcerts import db
from giftcerts.core import action_defaults, activity, expiry
from giftcerts.core.delivery import resend_certificate
from giftcerts.core.errors import InvalidTransition, NotFound, ValidationError
from giftcerts.core import lifecycle
from giftcerts.notify import actions, templates
from tests.factories import make_certificate, make_workspace
from tests.jobs.conftest import drain


def test_every_new_workspace_starts_with_the_default_actions(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        defaults = [(a.name, a.trigger, a.recipients, a.attach_pdf, a.enabled)
                    for a in actions.list_actions(s, workspace_id=ws.id)]
    assert defaults == [("Certificate to recipient", "activated", "recipient", True, True),
                        ("Receipt to purchaser", "activated", "purchaser", False, True),
                        ("Reminder before expiry", "expiring_soon", "recipient", False, True)]


def test_an_unknown_placeholder_or_broken_template_is_refused_with_a_clear_message():
    with pytest.raises(ValidationError) as exc:
        actions.validate(name="X", trigger="activated", recipients=["recipient"], staff_emails="",
                         subject="Hi {{ first_name }}", body="{% if %}", attach_pdf=False, enabled=True)
    assert "Unknown placeholder “first_name”" in exc.value.errors["subject"]
    assert "cannot be" in exc.value.errors["body"]


def test_staff_templates_run_in_a_sandbox():
    errors: dict[str, str] = {}
    templates.check("{{ code.__class__.__mro__ }}", "body", errors)
    assert "body" in errors


LOOPS_AND_WORSE = [
    "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",  # hours of CPU
    "{{ code * 100000000 }}",                     # a 1.4 GB string
    "{{ 9 ** 9 ** 9 }}",                          # a number with 370 million digits
    "{% set x = code %}{{ x }}",
    "{{ code.upper() }}",                         # method calls
    "{{ code[0] }}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{{ lipsum(1000) }}",
    "{% include 'x' %}",
]


@pytest.mark.parametrize("template", LOOPS_AND_WORSE)
def test_templates_can_only_fill_in_placeholders_and_choose_with_if_so_no_template_can_hang_the_app(template):
    errors: dict[str, str] = {}
    templates.check(template, "body", errors)
    assert errors["body"].startswith("Use {{ placeholders }}")
    # and a template stored before this rule is refused when an email is due, not run
    with pytest.raises(templates.TemplateRefused):
        templates.render("Subject", template, templates.SAMPLE)


def test_if_else_comparisons_and_simple_filters_are_allowed():
    body = ("{% if message %}{{ message }}{% else %}No message.{% endif %} "
            "{% if days_left == '1' or status != 'Active' %}soon{% endif %} "
            "{{ recipient_name | upper }} {{ 'yes' if booking_link else 'no' }} {{ not message }}")
    rendered, errors = templates.preview("Hi {{ recipient_name | title }}", body)
    assert errors == {}
    assert rendered.text == "Happy birthday! Enjoy an adventure on us.  ROBIN TRAVELLER yes False\n"


def test_only_our_own_links_are_clickable_in_the_html_part():
    ctx = {**templates.SAMPLE, "message": "Claim a prize at https://phish.example/login"}
    rendered = templates.render("Hi", "{{ message }}\n\nBook: {{ booking_link }}\nPDF: {{ pdf_link }}", ctx)
    assert '<a href="https://phish.example' not in rendered.html
    assert "https://phish.example/login" in rendered.html  # still there, as text
    assert f'<a href="{templates.SAMPLE["booking_link"]}">' in rendered.html
    assert f'<a href="{templates.SAMPLE["pdf_link"]}">' in rendered.html


def test_the_preview_renders_sample_data_and_escapes_html_in_the_html_part():
    rendered, errors = templates.preview("For {{ recipient_name }}", "{{ message }}\n\n<b>{{ amount }}</b>")
    assert errors == {} and rendered.subject == "For Robin Traveller"
    assert "Happy birthday!" in rendered.text and "$250.00" in rendered.text
    assert "&lt;b&gt;$250.00&lt;/b&gt;" in rendered.html


def test_the_reminder_says_today_or_tomorrow_rather_than_0_or_1_days(db_url):
    from datetime import datetime, timezone

    with db.write_session(db_url) as s:
        ws = make_workspace(s, timezone="America/New_York")
        cert = make_certificate(s, ws)
        evening = datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)  # 22:00 on 1 December in New York
        cert.expires_at = datetime(2026, 12, 2, 13, 0, tzinfo=timezone.utc)  # 08:00 the next morning
        ctx = templates.context(cert, ws, now=evening)
        assert (ctx["days_left"], ctx["expires_in"], ctx["expires_on"]) == ("1", "tomorrow", "2026-12-02")
        cert.expires_at = datetime(2026, 12, 2, 4, 0, tzinfo=timezone.utc)  # 23:00 the same evening
        rendered = templates.render(action_defaults.REMINDER_SUBJECT, action_defaults.REMINDER_BODY,
                                    templates.context(cert, ws, now=evening))
    assert "expires today, on 2026-12-01." in rendered.text


def test_staff_addresses_are_validated():
    with pytest.raises(ValidationError) as exc:
        actions.validate(name="X", trigger="redeemed", recipients=["staff"], staff_emails="office@, x",
                         subject="S", body="B", attach_pdf=False, enabled=True)
    assert "staff_emails" in exc.value.errors


def test_actions_of_another_workspace_cannot_be_changed(db_url):
    with db.write_session(db_url) as s:
        ws, other = make_workspace(s), make_workspace(s)
        theirs = actions.list_actions(s, workspace_id=other.id)[0]
        with pytest.raises(NotFound):
            actions.set_enabled(s, ws, action_id=theirs.id, enabled=False)
        with pytest.raises(NotFound):
            actions.delete_action(s, ws, action_id=theirs.id)


def test_resend_email_goes_to_the_chosen_address_with_the_pdf_and_is_logged(db_url, mail_sink):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
    drain(db_url)
    with db.write_session(db_url) as s:
        assert resend_certificate(s, ws, certificate_id=cert.id, send_to="other", address="Agent@Example.com",
                                  actor="staff@example.com") == "agent@example.com"
        with pytest.raises(ValidationError):
            resend_certificate(s, ws, certificate_id=cert.id, send_to="other", address="nope", actor="x")
    drain(db_url)
    resent = [m for m in mail_sink.messages() if m["To"] == "agent@example.com"]
    assert len(resent) == 1 and any(p.get_content_type() == "application/pdf" for p in resent[0].iter_attachments())
    with db.read_session(db_url) as s:
        last = activity.history(s, workspace_id=ws.id, certificate_id=cert.id)[-1]
    assert (last.kind, last.actor) == ("Sent", "staff@example.com")
    assert "agent@example.com" in activity.describe(last, ws.timezone)
    with db.write_session(db_url) as s:
        lifecycle.void_certificate(s, ws, certificate_id=cert.id, reason="Refund", actor="x")
        with pytest.raises(InvalidTransition):
            resend_certificate(s, ws, certificate_id=cert.id, send_to="recipient", address="", actor="x")


def test_a_reminder_email_is_sent_and_logged_as_reminder_sent(db_url, mail_sink):
    from datetime import timedelta

    from giftcerts.clock import utcnow

    now = utcnow()
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=100, reminder_days="30")
        cert = make_certificate(s, ws, now=now - timedelta(days=80), recipient_email="robin@example.com")
    drain(db_url)
    before = len(mail_sink.messages())
    with db.write_session(db_url) as s:
        assert expiry.send_due_reminders(s, now=now) == 1
    drain(db_url)
    reminders = mail_sink.messages()[before:]
    assert [m["To"] for m in reminders] == ["robin@example.com"]
    assert "expires" in reminders[0]["Subject"]
    expires_on = (now + timedelta(days=20)).strftime("%Y-%m-%d")
    assert f"expires in 20 days, on {expires_on}." in reminders[0].get_body(("plain",)).get_content()
    with db.read_session(db_url) as s:
        assert [a.kind for a in activity.history(s, workspace_id=ws.id, certificate_id=cert.id)].count(
            "Reminder sent") == 1


def test_the_default_emails_read_well_with_and_without_a_booking_link():
    for booking_link, expected in (("https://tours.example/?v=X", "Enter the code when you book, or open https://tours.example/?v=X."),
                                   ("", "Enter the code when you book.")):
        ctx = {**templates.SAMPLE, "booking_link": booking_link}
        assert expected in templates.render(action_defaults.CERTIFICATE_SUBJECT, action_defaults.CERTIFICATE_BODY, ctx).text
    reminder = templates.render(action_defaults.REMINDER_SUBJECT, action_defaults.REMINDER_BODY, {**templates.SAMPLE, "booking_link": ""})
    assert "Enter the code when you book your next trip." in reminder.text and "Book your next trip at" not in reminder.text


def test_a_guessing_alert_emails_the_staff_of_its_workspace_once_through_the_actions(db_url, mail_sink, monkeypatch):
    from giftcerts import ratelimit
    from giftcerts.web import guessing
    from giftcerts.models import Action, Job

    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    monkeypatch.setenv("GIFTCERTS_GUESS_LIMIT_WORKSPACE", "3/hour")
    ratelimit.reset()
    with db.write_session(db_url) as s:
        ws, elsewhere = make_workspace(s, timezone="Europe/Zurich"), make_workspace(s)
        for where, address in ((ws, "office@example.com"), (elsewhere, "other-office@example.com")):
            s.add(Action(workspace_id=where.id, name="Guessing alert", trigger="guessing_detected",
                         recipients="staff", staff_emails=address,
                         subject_template="Code guessing at {{ workspace_name }}",
                         body_template="Invalid codes: {{ failed_attempts }}, detected {{ detected_at }}; "
                                       "the widget is stricter until {{ guarded_until }}."))
    drain(db_url)
    try:
        for _ in range(20):  # an attack that goes on past the threshold
            guessing.widget_failed(ws.id)
    finally:
        ratelimit.reset()
    drain(db_url)
    sent = [m for m in mail_sink.messages() if "Code guessing" in m["Subject"]]
    assert [m["To"] for m in sent] == ["office@example.com"]
    body = sent[0].get_body(preferencelist=("plain",)).get_content()
    assert "Invalid codes: 3 within 1 hour, detected " in body and "(Europe/Zurich)" in body
    with db.read_session(db_url) as s:
        assert all(job.status == "done" for job in s.exec(select(Job)))


# Names Jinja itself defines (globals, `self`, loop helpers): none is a placeholder, and each
# would put a function object and a memory address into an email.
JINJA_NAMES = ["lipsum", "cycler", "self", "range", "namespace", "joiner", "dict", "loop", "caller", "varargs",
               "kwargs", "config", "request", "__builtins__"]


@pytest.mark.parametrize("name", JINJA_NAMES)
def test_only_documented_placeholders_are_accepted_by_name(name):
    for template in (f"{{{{ {name} }}}}", f"{{% if {name} %}}x{{% endif %}}", f"{{{{ {name} | upper }}}}",
                     f"{{{{ 'a' if {name} == 'b' else 'c' }}}}"):
        with pytest.raises(ValidationError) as exc:
            actions.validate(name="X", trigger="activated", recipients=["recipient"], staff_emails="",
                             subject="Hi", body=template, attach_pdf=False, enabled=True)
        message = exc.value.errors["body"]
        assert f"Unknown placeholder “{name}”" in message, template
        assert all(p in message for p in templates.PLACEHOLDERS)
        rendered, errors = templates.preview("Hi", template)
        assert rendered is None and f"“{name}”" in errors["body"]


@pytest.mark.parametrize("template", [
    "{{ code.__class__ }}", "{{ code.__class__.__mro__[1].__subclasses__() }}", "{{ code['__class__'] }}",
    "{{ code | attr('__class__') }}", "{{ self.__init__.__globals__ }}", "{{ lipsum.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}", "{{ namespace.__init__ }}", "{{ code.upper }}",
])
def test_attribute_access_is_refused_on_save(template):
    with pytest.raises(ValidationError) as exc:
        actions.validate(name="X", trigger="activated", recipients=["recipient"], staff_emails="",
                         subject=template, body="B", attach_pdf=False, enabled=True)
    assert "subject" in exc.value.errors


@pytest.mark.parametrize("name", JINJA_NAMES)
def test_a_stored_template_naming_a_jinja_global_is_refused_when_an_email_is_due(name):
    with pytest.raises(templates.TemplateRefused):
        templates.render("Subject", f"Hello {{{{ {name} }}}}", templates.SAMPLE)


def test_the_rendering_environment_exposes_no_globals():
    # even a name the allow-list let through could reach nothing but the context it is given
    assert dict(templates._text_env.globals) == {}
    assert set(templates._text_env.filters) <= templates._ALLOWED_FILTERS
    assert set(templates._text_env.tests) == set()


def test_every_documented_placeholder_still_renders():
    body = "\n".join(f"{name}={{{{ {name} }}}}" for name in templates.PLACEHOLDERS)
    rendered, errors = templates.preview("{{ workspace_name | upper }} {{ amount }}", body)
    assert errors == {}
    assert rendered.subject == "ALPINE TOURS $250.00"
    assert all(f"{name}={value}" in rendered.text for name, value in templates.SAMPLE.items())
    for subject, body in ((action_defaults.CERTIFICATE_SUBJECT, action_defaults.CERTIFICATE_BODY),
                          (action_defaults.RECEIPT_SUBJECT, action_defaults.RECEIPT_BODY),
                          (action_defaults.REMINDER_SUBJECT, action_defaults.REMINDER_BODY)):
        assert templates.preview(subject, body)[1] == {}

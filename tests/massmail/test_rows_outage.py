"""The row ledger through a database outage: an outcome is replayed within the row's lease."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.db.models import QuerySet

from invoices.mailing import invoices_mass_mail_start
from invoices.services import invoice_demo_create
from mailer import outages
from massmail.models import MailStatus, OutgoingMail
from massmail.rows import RowLedger
from tests.massmail.conftest import PASSWORD, server_card

pytestmark = pytest.mark.django_db
CUT = "terminating connection due to administrator command"


@pytest.fixture
def ledger(mass_settings, mass_server, monkeypatch):
    """Two claimed rows of a job; reconnecting is a no-op (the test runs in a transaction)."""
    monkeypatch.setattr(outages, "database_connections_close", lambda: None)
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    card = server_card(server)
    invoices = invoice_demo_create(owner_card=card, count=2, seed=3)
    job = invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices])
    job.status = "running"
    job.save(update_fields=["status"])
    rows = RowLedger(job_id=job.pk, worker="w1", lease=1.0)
    return rows, rows.claim(limit=2)


def _updates_fail(monkeypatch, times: int, *, after_write: bool = False) -> None:
    real = QuerySet.update
    left = [times]

    def update(self, **values):
        if left[0] > 0:
            left[0] -= 1
            if after_write:  # the statement committed, the answer was lost
                real(self, **values)
            raise OperationalError(CUT)
        return real(self, **values)

    monkeypatch.setattr(QuerySet, "update", update)


def _status(row) -> str:
    return OutgoingMail.objects.values_list("status", flat=True).get(pk=row.id)


def test_row_ledger_replays_the_sent_mark_when_the_database_is_back(ledger, monkeypatch):
    """The server took the messages while the database was down: the rows end `sent`."""
    rows, claimed = ledger
    for row in rows.transmitting(claimed):
        rows.at_data_marker(row)()
        rows.sent(row)
    _updates_fail(monkeypatch, 2)
    rows.flush()
    assert [_status(row) for row in claimed] == [MailStatus.SENT] * 2


def test_row_ledger_leaves_transmitting_when_the_lease_runs_out(ledger, monkeypatch):
    """The database stays away past the lease: the error propagates, the reaper decides."""
    rows, (row, _other) = ledger
    rows.transmitting([row])
    rows.at_data_marker(row)()
    rows.sent(row)
    _updates_fail(monkeypatch, 1000)
    with pytest.raises(OperationalError):
        rows.flush()
    monkeypatch.undo()
    assert _status(row) == MailStatus.TRANSMITTING


def test_row_ledger_recover_puts_back_what_was_not_transmitted(ledger, monkeypatch):
    """A "transmitting" mark whose answer was lost (DATA never began) and a claim go back."""
    rows, (row, other) = ledger
    _updates_fail(monkeypatch, 1, after_write=True)
    with pytest.raises(OperationalError):
        rows.transmitting([row])
    assert _status(row) == MailStatus.TRANSMITTING
    assert rows.recover() == 2
    assert _status(row) == _status(other) == MailStatus.QUEUED


def test_row_ledger_recover_keeps_a_row_given_to_data(ledger):
    """Of a marked group, the row given to DATA without an answer stays for the reaper."""
    rows, (row, other) = ledger
    rows.transmitting([row, other])
    rows.at_data_marker(row)()
    assert rows.recover() == 1
    rows.release([row, other])
    assert _status(row) == MailStatus.TRANSMITTING
    assert _status(other) == MailStatus.QUEUED

import pytest

from invoicing.services import delivery


@pytest.fixture(autouse=True)
def _nothing_registered_after_issue(monkeypatch):
    """The apps above invoicing (mail, documents) register what follows an issue when they load, which adds a
    « programmé : … » line to every issued invoice's history. Invoicing's tests read invoicing's own history:
    here nothing is registered unless a test registers it."""
    monkeypatch.setattr(delivery, "_AFTER_ISSUE", {})

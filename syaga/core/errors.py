"""Errors that carry a place and a reason, so a user can fix the input."""


class BusinessError(Exception):
    """A rule of the business refused the operation; the message is for the user."""


class InputError(BusinessError):
    """Bad input: names where (``ligne 214``) and why (``montant « abc » : ce n'est pas un nombre``), joined
    the French way (``ligne 214 : …``)."""

    def __init__(self, reason: str, *, where: str | None = None):
        self.reason = reason
        self.where = where
        super().__init__(f"{where} : {reason}" if where else reason)

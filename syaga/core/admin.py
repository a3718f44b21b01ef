"""Admin pieces every app's back-office shares."""


class ReadOnlyMixin:
    """Rows written by a service (bank sync, audit trail, numbering): looked at, never typed in."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

"""Every page but the login requires a signed-in staff user.

Machine endpoints (bank webhooks) opt out with :func:`public_endpoint`; they authenticate their caller
themselves (a signature), never through a session.
"""

from urllib.parse import quote

from django.conf import settings
from django.http import HttpResponseRedirect
from django.urls import reverse


def public_endpoint(view):
    """Mark a view as reachable without a staff session (it must check its caller itself)."""
    view.public_endpoint = True
    return view


class StaffRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "public_endpoint", False):
            return None
        path = request.path_info
        # The admin site enforces staff itself and serves the login page; static files are public.
        if path.startswith("/admin/") or path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return None
        user = getattr(request, "user", None)
        if user is not None and user.is_active and user.is_staff:
            return None
        return HttpResponseRedirect(f"{reverse(settings.LOGIN_URL)}?next={quote(request.get_full_path())}")

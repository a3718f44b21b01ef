"""Who is signing in from where: the client address the sign-in lockout (django-axes) counts failures by.

Behind ``REVERSE_PROXY_COUNT`` reverse proxies, each appends the address it received the request from to
``X-Forwarded-For``; the client is the entry the outermost of them appended, the N-th from the right.
Everything left of it was sent by the client and is not trusted. With no proxy, or a header shorter than
the proxies announced, the address is the connection's own (``REMOTE_ADDR``).
"""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.REVERSE_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        return remote
    return forwarded[-proxies]

"""The open-tracking pixel: public (an e-mail client has no session), reveals nothing, records the first open.

The same transparent GIF answers every token, known or not, so the URL tells a stranger nothing; a known
token's first request stamps its message as opened. Off unless MAIL_OPEN_TRACKING (Apple Mail opens every
message through its proxies, and French guidance asks for the recipient's consent).
"""

import base64

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from mailbox.services.tracking import open_record
from syaga.core.middleware import public_endpoint

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@public_endpoint
@never_cache
@require_GET
def open_pixel(request, token: str):
    if settings.MAIL_OPEN_TRACKING:
        open_record(token=token)
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response

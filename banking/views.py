"""Banking endpoints: the Qonto webhook (public, signed) and the OAuth authorization flow (staff)."""

import logging
import secrets

from django.contrib import messages
from django.http import HttpResponseBadRequest, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from banking.clients.qonto import QontoError, oauth_from_settings
from banking.services.webhooks import WebhookPayloadError, WebhookSignatureError, webhook_receive
from syaga.core.middleware import public_endpoint

log = logging.getLogger(__name__)


@public_endpoint
@csrf_exempt
@require_POST
def qonto_webhook(request):
    """Qonto wants a 2xx within a second: verify, store the event, queue the re-fetch, answer."""
    try:
        result = webhook_receive(body=request.body, signature=request.headers.get("X-Qonto-Signature"))
    except WebhookSignatureError as exc:
        log.warning("Qonto webhook refused: %s", exc)
        return JsonResponse({"error": "invalid signature"}, status=401)
    except WebhookPayloadError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"id": result.event_id, "duplicate": result.duplicate})


_STATE_KEY = "qonto_oauth_state"


@require_GET
def qonto_oauth_start(request):
    """Send a staff user to Qonto to authorize the application (authorization-code flow)."""
    try:
        auth = oauth_from_settings()
    except QontoError as exc:
        return HttpResponseBadRequest(str(exc))
    state = secrets.token_urlsafe(24)
    request.session[_STATE_KEY] = state
    return HttpResponseRedirect(auth.authorize_url(state=state))


@require_GET
def qonto_oauth_callback(request):
    """Qonto comes back with ``code`` and ``state``: exchange the code, store the tokens encrypted."""
    expected = request.session.pop(_STATE_KEY, None)
    if not expected or not secrets.compare_digest(expected, request.GET.get("state", "")):
        return HttpResponseBadRequest("Qonto OAuth: unknown or expired 'state'; start the authorization over")
    if request.GET.get("error"):
        return HttpResponseBadRequest(
            f"Qonto OAuth refused: {request.GET.get('error')} {request.GET.get('error_description', '')}"
        )
    code = request.GET.get("code", "")
    if not code:
        return HttpResponseBadRequest("Qonto OAuth: no 'code' in the callback")
    try:
        oauth_from_settings().exchange_code(code)
    except QontoError as exc:
        return HttpResponseBadRequest(str(exc))
    messages.success(request, "Qonto est autorisé : la synchronisation bancaire peut démarrer.")
    return HttpResponseRedirect(reverse("admin:index"))

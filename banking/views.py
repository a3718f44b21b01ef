"""Banking endpoints: the Qonto webhook (public, signed) and the OAuth authorization flow (staff with the
``banking.connect_qonto`` permission)."""

import logging
import secrets

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from banking.clients.qonto import QontoError, oauth_from_settings
from banking.services.webhooks import WebhookPayloadError, WebhookSignatureError, webhook_receive
from syaga.core.middleware import public_endpoint

log = logging.getLogger(__name__)


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django reads a body of unknown length as empty


def _too_large(limit: int) -> JsonResponse:
    log.warning("Webhook Qonto refusé : corps de plus de %s octets", limit)
    return JsonResponse({"error": f"corps trop gros (limite : {limit} octets)"}, status=413)


@public_endpoint
@csrf_exempt
@require_POST
def qonto_webhook(request):
    """Qonto wants a 2xx within a second: verify, store the event, queue the re-fetch, answer.

    A Qonto event is a few kilobytes: a body over ``QONTO_WEBHOOK_MAX_BYTES`` is refused (413) before it
    is read, so an anonymous caller cannot make the server hold megabytes or log a traceback."""
    limit = settings.QONTO_WEBHOOK_MAX_BYTES
    if _declared_length(request) > limit:
        return _too_large(limit)
    try:
        body = request.body
    except RequestDataTooBig:  # a limit set above Django's DATA_UPLOAD_MAX_MEMORY_SIZE
        return _too_large(limit)
    try:
        result = webhook_receive(body=body, signature=request.headers.get("X-Qonto-Signature"))
    except WebhookSignatureError as exc:
        log.warning("Webhook Qonto refusé : %s", exc)
        return JsonResponse({"error": "signature invalide"}, status=401)
    except WebhookPayloadError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"id": result.event_id, "duplicate": result.duplicate})


_STATE_KEY = "qonto_oauth_state"


def _oauth_error(request, reason: str, detail: str = ""):
    """The French error page of the OAuth flow; what Qonto (or anyone) put in the URL is escaped."""
    context = {
        **admin.site.each_context(request),
        "title": "Connexion à Qonto",
        "reason": reason,
        "detail": detail,
    }
    return render(request, "banking/qonto_oauth_error.html", context, status=400)


@require_GET
@permission_required("banking.connect_qonto", raise_exception=True)
def qonto_oauth_start(request):
    """Send a user allowed to connect Qonto to authorize the application (authorization-code flow)."""
    try:
        auth = oauth_from_settings()
    except QontoError as exc:
        return _oauth_error(request, "La configuration OAuth de Qonto est incomplète.", str(exc))
    state = secrets.token_urlsafe(24)
    request.session[_STATE_KEY] = state
    return HttpResponseRedirect(auth.authorize_url(state=state))


@require_GET
@permission_required("banking.connect_qonto", raise_exception=True)
def qonto_oauth_callback(request):
    """Qonto comes back with ``code`` and ``state``: exchange the code, store the tokens encrypted."""
    expected = request.session.pop(_STATE_KEY, None)
    if not expected or not secrets.compare_digest(expected, request.GET.get("state", "")):
        return _oauth_error(request, "Autorisation inconnue ou expirée (paramètre « state ») : recommencez.")
    if request.GET.get("error"):
        return _oauth_error(
            request,
            "Qonto a refusé l'autorisation.",
            f"{request.GET.get('error')} {request.GET.get('error_description', '')}".strip(),
        )
    code = request.GET.get("code", "")
    if not code:
        return _oauth_error(request, "Qonto n'a renvoyé aucun code d'autorisation : recommencez.")
    try:
        oauth_from_settings().exchange_code(code)
    except QontoError as exc:
        return _oauth_error(request, "L'échange du code d'autorisation avec Qonto a échoué.", str(exc))
    messages.success(request, "Qonto est autorisé : la synchronisation bancaire peut démarrer.")
    return HttpResponseRedirect(reverse("admin:index"))

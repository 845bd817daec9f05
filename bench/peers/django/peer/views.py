import datetime

from django.http import HttpResponse
from django.shortcuts import render
from invitations.app_settings import app_settings
from invitations.views import AcceptInvite


class InvitePage(AcceptInvite):
    """The page a recipient sees on opening their invite link, without consuming it.

    django-invitations' AcceptInvite cannot do that: on GET it either accepts the invitation
    and redirects (INVITATIONS_CONFIRM_INVITE_ON_GET = True, the default) or answers 404
    (False). This view does what AcceptInvite does up to the point of accepting: the same
    lookup (get_object: by key, lower-cased), the same checks (accepted, key_expired) and the
    same 410 for a bad, used or expired key (GONE_ON_ACCEPT_ERROR, the default); then it
    renders the invitation's email and a sign-up form, like Tether's GET /invite/{token}.
    POST is AcceptInvite's own: it accepts the invitation and redirects to sign-up.
    """

    def get(self, request, *args, **kwargs):
        invitation = self.get_object()
        if not invitation or invitation.accepted or invitation.key_expired():
            return HttpResponse(status=410)
        expires = invitation.sent + datetime.timedelta(days=app_settings.INVITATION_EXPIRY)
        return render(
            request,
            "peer/invite.html",
            {"invitation": invitation, "expires": expires},
        )

from django.contrib import admin
from django.urls import include, path, re_path

from peer.views import InvitePage

urlpatterns = [
    # The invite link django-invitations mails out (its URL name "invitations:accept-invite"
    # still builds it). Listed before the app's own URLs so a GET renders the invite page
    # instead of accepting the invite; a POST is django-invitations' own AcceptInvite.post.
    re_path(r"^invitations/accept-invite/(?P<key>\w+)/?$", InvitePage.as_view()),
    path("invitations/", include("invitations.urls", namespace="invitations")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]

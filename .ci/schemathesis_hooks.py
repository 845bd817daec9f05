"""Schemathesis checks for Tether: every error is RFC 9457 problem details (api.md "Errors")."""

import schemathesis


@schemathesis.check
def problem_json_on_error(ctx, response, case):
    """Any 4xx or 5xx answer must be application/problem+json."""
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]
        if not content_type.startswith("application/problem+json"):
            raise AssertionError(
                f"{response.status_code} was answered as {content_type!r}, not application/problem+json"
            )

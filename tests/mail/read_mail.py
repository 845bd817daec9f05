"""Reads .eml files with Python's own `email` package and prints what they hold as JSON,
so that Tether's tests check its messages with an implementation other than its own.

    python3 read_mail.py FILE...

For each file: its headers (decoded), whether it is multipart/alternative, and its parts
(content type, Content-ID, disposition, decoded text or byte length).
"""

import email
import email.policy
import json
import sys


def describe(path):
    with open(path, "rb") as f:
        message = email.message_from_binary_file(f, policy=email.policy.default)
    parts = []
    for part in message.walk():
        if part.is_multipart():
            parts.append({"type": part.get_content_type()})
            continue
        entry = {
            "type": part.get_content_type(),
            "content_id": part.get("Content-ID"),
            "disposition": part.get_content_disposition(),
        }
        if part.get_content_maintype() == "text":
            entry["text"] = part.get_content()
        else:
            entry["bytes"] = len(part.get_payload(decode=True) or b"")
        parts.append(entry)
    headers = {}
    for name, value in message.items():
        headers.setdefault(name.lower(), []).append(str(value))
    return {
        "file": path,
        "headers": headers,
        "defects": [str(d) for d in message.defects],
        "content_type": message.get_content_type(),
        "parts": parts,
    }


print(json.dumps([describe(path) for path in sys.argv[1:]]))

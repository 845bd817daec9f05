"""A real SMTP server for Tether's tests (aiosmtpd), saving each accepted message.

    python3 smtp_sink.py PORT DIR [--refuse-first N] [--reject-word WORD]

Every accepted message is written to DIR as NNNNNN.eml (the bytes the server received).
--refuse-first N answers the first N messages with 451 (try again later); a recipient
containing WORD is refused with 550 (no such mailbox). The server prints "ready" once it
listens, and stops on SIGTERM.
"""

import argparse
import asyncio
import itertools
import os
import signal

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder, refuse_first, reject_word):
        self.folder = folder
        self.refusals_left = refuse_first
        self.reject_word = reject_word
        self.numbers = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_word and self.reject_word in address:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refusals_left > 0:
            self.refusals_left -= 1
            return "451 4.3.0 Try again later"
        number = next(self.numbers)
        path = os.path.join(self.folder, f"{os.getpid()}-{number:06}.eml")
        with open(path + ".part", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.replace(path + ".part", path)
        return "250 OK: queued"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("folder")
    parser.add_argument("--refuse-first", type=int, default=0)
    parser.add_argument("--reject-word", default="")
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    controller = Controller(
        Sink(args.folder, args.refuse_first, args.reject_word),
        hostname="127.0.0.1",
        port=args.port,
    )
    controller.start()
    print("ready", flush=True)
    stop = asyncio.new_event_loop()
    stopped = asyncio.Event()
    stop.add_signal_handler(signal.SIGTERM, stopped.set)
    stop.add_signal_handler(signal.SIGINT, stopped.set)
    stop.run_until_complete(stopped.wait())
    controller.stop()


if __name__ == "__main__":
    main()

"""agegender.server.redact: keys in query strings and credential headers never reach a log."""

from __future__ import annotations

import io
import logging

from agegender.server.redact import MASK, RedactSecrets, install, redact


def test_query_keys_headers_and_the_key_itself_are_masked() -> None:
    line = '127.0.0.1:5 - "WebSocket /v1/stream?key=abc%2Bd&x=1" [accepted]'
    assert redact(line) == f'127.0.0.1:5 - "WebSocket /v1/stream?key={MASK}&x=1" [accepted]'
    assert redact("GET /a?x=1&api_key=zz&token=t HTTP/1.1") == f"GET /a?x=1&api_key={MASK}&token={MASK} HTTP/1.1"
    assert redact("< Authorization: Bearer abc") == f"< Authorization: {MASK}"
    assert redact("< X-API-Key: abc") == f"< X-API-Key: {MASK}"
    # the configured key anywhere, raw or URL-encoded
    for form in ("s3+c/r=t", "s3%2Bc%2Fr%3Dt", "s3%2Bc/r%3Dt"):
        assert "s3" not in redact(f"path /x/{form}/y", ["s3+c/r=t"]), form
    assert redact("GET /v1/models 200 in=0B") == "GET /v1/models 200 in=0B"  # no change


def test_the_filter_rewrites_records_of_every_level_before_handlers_format_them() -> None:
    logger = logging.getLogger("uvicorn.error")  # one of the loggers install() covers
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        f = install(["hunter2"])
        logger.debug("< GET %s HTTP/1.1", "/v1/stream?key=hunter2")
        logger.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:1", "/v1/stream?key=hunter2")
        logger.warning("the key hunter2 again")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        install([])  # no key held any more
    text = out.getvalue()
    assert "hunter2" not in text and text.count(MASK) == 3, text
    assert isinstance(f, RedactSecrets)
    assert sum(isinstance(x, RedactSecrets) for x in logger.filters) == 1  # replaced, not stacked

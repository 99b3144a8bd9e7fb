"""The HTTP/1.1 request parser: each rule of chapter 16, its limits, and fuzzing.

The fuzz tests do not know the parser: whatever bytes come in, and however
they are cut into pieces, the only outcomes are events or HTTPError, and the
verdict is the same as when the bytes come all at once.
"""
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tale.http import (CLOSED, NEED_DATA, Data, EndOfMessage, HTTPError, Request,
                       RequestParser, error_response, format_response)


def parse(pieces, eof=True, **limits):
    """Feed `pieces` (bytes, or a list of bytes); return (events, error or None).

    The error is (status, reason) of the HTTPError raised.

    Events are normalised to comparable tuples, and consecutive Data merged,
    since how a body is cut into Data events depends on how it was fed.
    """
    if isinstance(pieces, bytes):
        pieces = [pieces]
    parser = RequestParser(**limits)
    events = []

    def drain():
        while True:
            event = parser.next_event()
            if event is NEED_DATA or event is CLOSED:
                return event
            if isinstance(event, Data):
                assert event.data, 'empty Data event'
                if events and events[-1][0] == 'data':
                    events[-1] = ('data', events[-1][1] + event.data)
                    continue
                events.append(('data', event.data))
            elif isinstance(event, Request):
                events.append(('request', event.method, event.target, event.version,
                               tuple(event.headers), event.keep_alive,
                               event.content_length, event.chunked))
            else:
                assert isinstance(event, EndOfMessage)
                events.append(('end', tuple(event.trailers)))

    try:
        for piece in pieces:
            parser.feed(piece)
            if drain() is CLOSED:
                return events, None
        if eof:
            parser.feed(b'')
            assert drain() is CLOSED
    except HTTPError as exc:
        assert isinstance(exc.status, int) and 400 <= exc.status < 600
        with pytest.raises(HTTPError) as again:       # the verdict sticks
            parser.next_event()
        assert again.value is exc
        return events, (exc.status, exc.reason)
    return events, None


def status_of(data, **limits):
    error = parse(data, **limits)[1]
    return error and error[0]


def error_of(data, **limits):
    return parse(data, **limits)[1]


def requests(data, **limits):
    events, error = parse(data, **limits)
    assert error is None, error
    return events


GET = b'GET / HTTP/1.1\r\nHost: a\r\n\r\n'


# -- what is accepted -------------------------------------------------------

def test_a_simple_get():
    assert requests(GET) == [
        ('request', 'GET', '/', '1.1', (('host', 'a'),), True, 0, False), ('end', ())]


def test_pipelined_requests_in_one_feed_come_out_in_order():
    events = requests(GET + b'HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n' + GET)
    assert [e[1] for e in events if e[0] == 'request'] == ['GET', 'HEAD', 'GET']


def test_header_values_lose_optional_whitespace_and_names_their_case():
    events = requests(b'GET / HTTP/1.1\r\nHOST:a\r\nX-Thing: \t two  words \t\r\nX-Empty:\r\n\r\n')
    assert events[0][4] == (('host', 'a'), ('x-thing', 'two  words'), ('x-empty', ''))


def test_bytes_above_127_in_a_value_are_kept_as_latin_1():
    events = requests(b'GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xe9\r\n\r\n')
    assert events[0][4][1] == ('x-name', 'caf\xe9')


def test_content_length_body():
    events = requests(b'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello' + GET)
    assert events[:3] == [('request', 'POST', '/echo', '1.1', (('host', 'a'), ('content-length', '5')),
                           True, 5, False), ('data', b'hello'), ('end', ())]
    assert events[3][1] == 'GET'


def test_chunked_body_with_extensions_and_trailers():
    events = requests(b'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n'
                      b'5 ; a=b;c="q\\"uoted" ;d\r\nhello\r\nA\r\n0123456789\r\n'
                      b'0\r\nX-Checksum: 1\r\nX-More: 2\r\n\r\n')
    assert events[0][6:] == (None, True)
    assert events[1:] == [('data', b'hello0123456789'), ('end', (('x-checksum', '1'), ('x-more', '2')))]


def test_empty_lines_before_a_request_are_skipped():
    assert requests(b'\r\n\r\n' + GET + b'\r\n' + GET)[2][1] == 'GET'


def test_equal_content_lengths_are_one_length():
    for head in (b'Content-Length: 3\r\nContent-Length: 3\r\n', b'Content-Length: 3, 3\r\n'):
        events = requests(b'POST / HTTP/1.1\r\nHost: a\r\n' + head + b'\r\nabc')
        assert events[0][6] == 3 and events[1] == ('data', b'abc')


def test_http_1_1_keeps_the_connection_unless_close():
    assert requests(GET)[0][5] is True
    events, error = parse(b'GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n' + GET)
    assert error is None and len(events) == 2 and events[0][5] is False   # the second GET is not read


def test_http_1_0_closes_unless_keep_alive():
    events = requests(b'GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n')
    assert len(events) == 2 and events[0][5] is False
    events = requests(b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n')
    assert len(events) == 4 and events[0][5] is True and events[2][5] is False


def test_expect_continue_is_reported():
    parser = RequestParser()
    parser.feed(b'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n')
    request = parser.next_event()
    assert request.expect_continue and request.get('expect') == '100-continue'
    assert parser.next_event() is NEED_DATA


def test_eof_between_requests_is_clean_and_inside_one_is_not():
    assert parse(GET + b'\r\n')[1] is None
    assert status_of(GET + b'GET / HT') == 400
    assert status_of(b'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel') == 400


def test_body_pieces_come_out_as_they_arrive():
    parser = RequestParser()
    parser.feed(b'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc')
    assert isinstance(parser.next_event(), Request)
    assert parser.next_event().data == b'abc'
    assert parser.next_event() is NEED_DATA
    parser.feed(b'defghijklmnop')
    assert parser.next_event().data == b'defghij'
    assert isinstance(parser.next_event(), EndOfMessage)


def test_largest_allowed_sizes_pass():
    line = b'GET /' + b'a' * (8192 - 16) + b' HTTP/1.1\r\n'
    assert len(line) == 8192
    assert status_of(line + b'Host: a\r\n\r\n') is None
    fields = b''.join(b'X-%d: v\r\n' % i for i in range(99))
    assert status_of(b'GET / HTTP/1.1\r\nHost: a\r\n' + fields + b'\r\n') is None


# -- what is refused, and with which status ----------------------------------

def head(*lines, version=b'HTTP/1.1', method=b'POST'):
    return method + b' / ' + version + b'\r\n' + b''.join(l + b'\r\n' for l in lines) + b'\r\n'


BAD = [
    # (why, bytes, status, words of the reason)
    ('bare LF ends the request line', b'GET / HTTP/1.1\nHost: a\r\n\r\n', 400,
     'bare LF'),
    ('bare LF ends a header', b'GET / HTTP/1.1\r\nHost: a\n\r\n', 400,
     'bare LF'),
    ('bare LF ends the head', b'GET / HTTP/1.1\r\nHost: a\r\n\n', 400,
     'bare LF'),
    ('bare LF alone', b'\n', 400,
     'bare LF'),
    ('bare CR in a header value', b'GET / HTTP/1.1\r\nHost: a\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n', 400,
     'bare CR'),
    ('bare CR in the request line', b'GET /\r HTTP/1.1\r\nHost: a\r\n\r\n', 400,
     'bare CR'),
    ('two spaces in the request line', b'GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400,
     'invalid request line'),
    ('tab in the request line', b'GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n', 400,
     'invalid request line'),
    ('space in the target', b'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', 400,
     'invalid request line'),
    ('non-ASCII target', b'GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n', 400,
     'invalid request line'),
    ('method not a token', b'G(T / HTTP/1.1\r\nHost: a\r\n\r\n', 400,
     'invalid request line'),
    ('no version', b'GET /\r\n\r\n', 400,
     'invalid request line'),
    ('lower-case version', b'GET / http/1.1\r\nHost: a\r\n\r\n', 400,
     'invalid request line'),
    ('HTTP/2.0', b'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505,
     'HTTP/2.0 is not supported'),
    ('HTTP/1.2', b'GET / HTTP/1.2\r\nHost: a\r\n\r\n', 505,
     'HTTP/1.2 is not supported'),
    ('HTTP/0.9', b'GET / HTTP/0.9\r\n\r\n', 505,
     'HTTP/0.9 is not supported'),
    ('header name not a token', head(b'Host: a', b'X(y): 1'), 400,
     'invalid header name'),
    ('header with no colon', head(b'Host: a', b'Nothing'), 400,
     'without a colon'),
    ('empty header name', head(b'Host: a', b': v'), 400,
     'invalid header name'),
    ('whitespace before the colon', head(b'Host: a', b'Transfer-Encoding : chunked'), 400,
     'whitespace before the colon'),
    ('tab before the colon', head(b'Host: a', b'Content-Length\t: 0'), 400,
     'whitespace before the colon'),
    ('NUL in a value', head(b'Host: a', b'X: a\x00b'), 400,
     'control character'),
    ('vertical tab in a value', head(b'Host: a', b'Transfer-Encoding: \x0bchunked'), 400,
     'control character'),
    ('DEL in a value', head(b'Host: a', b'X: \x7f'), 400,
     'control character'),
    ('obs-fold', head(b'Host: a', b'X: one', b' two'), 400,
     'obsolete line folding'),
    ('obs-fold with a tab', head(b'Host: a', b'X: one', b'\tTransfer-Encoding: chunked'), 400,
     'obsolete line folding'),
    ('whitespace before the first header', head(b' Host: a'), 400,
     'obsolete line folding'),
    ('CL.TE: both framings', head(b'Host: a', b'Content-Length: 4', b'Transfer-Encoding: chunked')
     + b'0\r\n\r\n', 400,
     'both Transfer-Encoding and Content-Length'),
    ('TE.CL: both framings, other order', head(b'Host: a', b'Transfer-Encoding: chunked',
                                               b'Content-Length: 4') + b'0\r\n\r\n', 400,
     'both Transfer-Encoding and Content-Length'),
    ('TE not ending in chunked', head(b'Host: a', b'Transfer-Encoding: chunked, gzip'), 400,
     'chunked is not the final'),
    ('TE.TE: xchunked', head(b'Host: a', b'Transfer-Encoding: xchunked'), 400,
     'chunked is not the final'),
    ('TE.TE: a second TE line', head(b'Host: a', b'Transfer-Encoding: chunked',
                                     b'Transfer-Encoding: x'), 400,
     'chunked is not the final'),
    ('TE.TE: identity', head(b'Host: a', b'Transfer-Encoding: identity'), 400,
     'chunked is not the final'),
    ('TE with an empty element', head(b'Host: a', b'Transfer-Encoding: chunked,'), 400,
     'invalid transfer coding'),
    ('TE empty', head(b'Host: a', b'Transfer-Encoding:'), 400,
     'invalid transfer coding'),
    ('TE quoted', head(b'Host: a', b'Transfer-Encoding: "chunked"'), 400,
     'invalid transfer coding'),
    ('chunked twice', head(b'Host: a', b'Transfer-Encoding: chunked, chunked'), 400,
     'more than once'),
    ('gzip then chunked', head(b'Host: a', b'Transfer-Encoding: gzip, chunked'), 501,
     "'gzip' is not implemented"),
    ('TE in HTTP/1.0', head(b'Transfer-Encoding: chunked', version=b'HTTP/1.0'), 400,
     'HTTP/1.0 request'),
    ('conflicting Content-Lengths', head(b'Host: a', b'Content-Length: 3', b'Content-Length: 4'), 400,
     'conflicting Content-Lengths'),
    ('conflicting Content-Length list', head(b'Host: a', b'Content-Length: 3, 4'), 400,
     'conflicting Content-Lengths'),
    ('Content-Length with a sign', head(b'Host: a', b'Content-Length: +3'), 400,
     'invalid Content-Length'),
    ('Content-Length negative', head(b'Host: a', b'Content-Length: -1'), 400,
     'invalid Content-Length'),
    ('Content-Length in hex', head(b'Host: a', b'Content-Length: 0x3'), 400,
     'invalid Content-Length'),
    ('Content-Length with a space inside', head(b'Host: a', b'Content-Length: 1 2'), 400,
     'invalid Content-Length'),
    ('Content-Length empty', head(b'Host: a', b'Content-Length:'), 400,
     'invalid Content-Length'),
    ('Content-Length of 19 digits', head(b'Host: a', b'Content-Length: 1000000000000000000'), 400,
     'invalid Content-Length'),
    ('Content-Length 3 and 03', head(b'Host: a', b'Content-Length: 3', b'Content-Length: 03'), 400,
     'conflicting Content-Lengths'),
    ('chunk size not hex', head(b'Host: a', b'Transfer-Encoding: chunked') + b'g\r\n', 400,
     'invalid chunk-size line'),
    ('chunk size 0x', head(b'Host: a', b'Transfer-Encoding: chunked') + b'0x5\r\nhello\r\n0\r\n\r\n', 400,
     'invalid chunk-size line'),
    ('chunk size negative', head(b'Host: a', b'Transfer-Encoding: chunked') + b'-1\r\n', 400,
     'invalid chunk-size line'),
    ('chunk size empty', head(b'Host: a', b'Transfer-Encoding: chunked') + b'\r\n', 400,
     'invalid chunk-size line'),
    ('chunk size over 16 digits', head(b'Host: a', b'Transfer-Encoding: chunked')
     + b'10000000000000005\r\nhello\r\n0\r\n\r\n', 400,
     'invalid chunk-size line'),
    ('chunk size then a space', head(b'Host: a', b'Transfer-Encoding: chunked') + b'5 \r\nhello\r\n', 400,
     'invalid chunk-size line'),
    ('chunk extension without a name', head(b'Host: a', b'Transfer-Encoding: chunked') + b'5;\r\nhello\r\n', 400,
     'invalid chunk-size line'),
    ('chunk extension with a bare LF', head(b'Host: a', b'Transfer-Encoding: chunked')
     + b'5;a\nb\r\nhello\r\n0\r\n\r\n', 400,
     'bare LF'),
    ('chunk extension unterminated quote', head(b'Host: a', b'Transfer-Encoding: chunked')
     + b'5;a="b\r\nhello\r\n', 400,
     'invalid chunk-size line'),
    ('chunk data longer than its size', head(b'Host: a', b'Transfer-Encoding: chunked')
     + b'3\r\nhello\r\n0\r\n\r\n', 400,
     'not followed by CRLF'),
    ('chunk data ends in a bare LF', head(b'Host: a', b'Transfer-Encoding: chunked')
     + b'5\r\nhello\n0\r\n\r\n', 400,
     'not followed by CRLF'),
    ('last chunk without the final CRLF, then eof', head(b'Host: a', b'Transfer-Encoding: chunked')
     + b'0\r\n', 400,
     'closed in the middle'),
    ('bad trailer', head(b'Host: a', b'Transfer-Encoding: chunked') + b'0\r\nX : 1\r\n\r\n', 400,
     'whitespace before the colon'),
    ('missing Host in HTTP/1.1', b'GET / HTTP/1.1\r\n\r\n', 400,
     'exactly one Host'),
    ('two Hosts', head(b'Host: a', b'Host: b'), 400,
     'exactly one Host'),
    ('two Hosts in HTTP/1.0', head(b'Host: a', b'Host: a', version=b'HTTP/1.0'), 400,
     'exactly one Host'),
    ('Host with a space', head(b'Host: a b'), 400,
     'invalid Host'),
    ('Host with a slash', head(b'Host: a/b'), 400,
     'invalid Host'),
    ('request line over 8 KiB', b'GET /' + b'a' * 8200 + b' HTTP/1.1\r\nHost: a\r\n\r\n', 414,
     'request line longer than 8192'),
    ('request line over 8 KiB, unended', b'GET /' + b'a' * 8200, 414,
     'request line longer than 8192'),
    ('header line over 8 KiB', head(b'Host: a', b'X: ' + b'a' * 8200), 431,
     'header section longer than 8192'),
    ('head over 64 KiB', head(b'Host: a', *[b'X: ' + b'a' * 8000] * 9), 431,
     'header section longer than'),
    ('more than 100 header lines', head(b'Host: a', *[b'X: a'] * 100), 431,
     'more than 100 header lines'),
    ('eof in the middle of the head', b'GET / HTTP/1.1\r\nHost: a\r\n', 400,
     'closed in the middle'),
]


@pytest.mark.parametrize('data, status, reason', [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_malformed_requests_are_refused(data, status, reason):
    error = error_of(data)
    assert error is not None and error[0] == status and reason in error[1], error
    assert error_of(GET + data) == error          # also as the second request on a connection


def test_body_limits_give_413():
    assert status_of(head(b'Host: a', b'Content-Length: 11'), max_body=10) == 413
    chunked = head(b'Host: a', b'Transfer-Encoding: chunked')
    assert status_of(chunked + b'6\r\nhello!\r\n5\r\nhello\r\n0\r\n\r\n', max_body=10) == 413
    assert status_of(chunked + b'5\r\nhello\r\n5\r\nhello\r\n0\r\n\r\n', max_body=10) is None


def test_a_rule_broken_after_good_requests_keeps_the_good_ones():
    events, error = parse(GET + GET + b'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')
    assert error[0] == 400 and len(events) == 4


def test_limits_are_refused_before_the_line_ends():
    parser = RequestParser()
    parser.feed(b'GET /' + b'a' * 10000)            # no LF yet, and none needed to know
    with pytest.raises(HTTPError) as info:
        parser.next_event()
    assert info.value.status == 414


def test_after_a_closing_request_nothing_more_is_buffered():
    parser = RequestParser()
    parser.feed(b'GET / HTTP/1.0\r\n\r\n' + b'x' * 1000)
    assert isinstance(parser.next_event(), Request)
    assert isinstance(parser.next_event(), EndOfMessage)
    parser.feed(b'x' * 100000)
    assert parser.next_event() is CLOSED and len(parser._buf) == 0


# -- responses ---------------------------------------------------------------

def request(method='GET', version='1.1', keep_alive=True):
    r = Request(method, '/', version, [])
    r.keep_alive = keep_alive
    return r


def split_response(data):
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    return lines[0], dict(line.split(': ', 1) for line in lines[1:]), body


def test_response_has_date_length_and_body():
    status, headers, body = split_response(format_response(200, b'hi', [('X-A', 'b')], request=request()))
    assert status == 'HTTP/1.1 200 OK'
    assert headers['Content-Length'] == '2' and headers['X-A'] == 'b'
    assert headers['Date'].endswith(' GMT') and 'Connection' not in headers
    assert body == b'hi'


def test_head_response_keeps_the_length_not_the_body():
    status, headers, body = split_response(format_response(200, b'hello', request=request('HEAD')))
    assert headers['Content-Length'] == '5' and body == b''


def test_connection_header_follows_the_request():
    assert split_response(format_response(200, request=request(keep_alive=False)))[1]['Connection'] == 'close'
    assert split_response(format_response(200, request=request(version='1.0')))[1]['Connection'] == 'keep-alive'
    assert split_response(format_response(200, request=request(), close=True))[1]['Connection'] == 'close'


def test_204_and_304_have_no_length():
    assert 'Content-Length' not in split_response(format_response(204, request=request()))[1]


def test_response_headers_cannot_inject():
    for name, value in [('X', 'a\r\nSet-Cookie: x=1'), ('X', 'a\nb'), ('X Y', 'a'), ('X:', 'a'), ('', 'a')]:
        with pytest.raises(ValueError):
            format_response(200, headers=[(name, value)], request=request())


def test_error_response_closes():
    status, headers, body = split_response(error_response(HTTPError(431, 'too many headers')))
    assert status == 'HTTP/1.1 431 Request Header Fields Too Large'
    assert headers['Connection'] == 'close' and body == b'431 too many headers\n'


# -- fuzzing: the verdict does not depend on how bytes are cut -----------------

VALID = [
    GET,
    GET + b'HEAD /x?y=1 HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n\r\n',
    b'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello' + GET,
    b'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'
    b'5;x=1\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n' + GET,
    b'\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n',
    b'OPTIONS * HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\n\r\n',
]
ALL_INPUTS = VALID + [case[1] for case in BAD]


def cut(data, cuts):
    """`data` cut at the given offsets."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[i:j] for i, j in zip([0] + points, points + [len(data)]) if j > i]


@pytest.mark.parametrize('data', ALL_INPUTS)
def test_byte_at_a_time_gives_the_same_verdict(data):
    assert parse([data[i:i + 1] for i in range(len(data))]) == parse(data)
    assert parse(data) == parse(cut(data, range(0, len(data), 7)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALL_INPUTS), st.lists(st.integers(min_value=0), max_size=20))
def test_any_cutting_gives_the_same_verdict(data, cuts):
    assert parse(cut(data, cuts)) == parse(data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID), st.data())
def test_mutated_requests_parse_or_fail_cleanly_and_the_same_way_in_pieces(data, draw):
    data = bytearray(data)
    for _ in range(draw.draw(st.integers(1, 4))):
        i = draw.draw(st.integers(0, len(data)))
        kind = draw.draw(st.sampled_from(['insert', 'delete', 'replace']))
        byte = draw.draw(st.sampled_from(list(b' \t\r\n\x00\x0b:;,"=\\0aF-')) | st.integers(0, 255))
        if kind == 'insert':
            data[i:i] = bytes([byte])
        elif i < len(data):
            data[i:i + 1] = b'' if kind == 'delete' else bytes([byte])
    data = bytes(data)
    cuts = draw.draw(st.lists(st.integers(min_value=0), max_size=10))
    assert parse(cut(data, cuts)) == parse(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0), max_size=10))
def test_garbage_parses_or_fails_cleanly(data, cuts):
    assert parse(cut(data, cuts)) == parse(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_after_a_valid_head(data):
    prefix = b'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'
    assert parse([prefix + data]) == parse([prefix, data])


def test_memory_stays_bounded_under_a_flood():
    """Megabytes of head with no end, fed as a client would: the buffer never outgrows the limits."""
    rng = random.Random(16)
    for filler in (b'a', b'\r', b'X: y\r\n'):
        parser = RequestParser()
        parser.feed(b'GET / HTTP/1.1\r\nHost: a\r\n')
        biggest, status = 0, None
        for _ in range(2000):
            assert parser.next_event() is NEED_DATA
            parser.feed(filler * rng.randint(1, 700))
            biggest = max(biggest, len(parser._buf))
            try:
                parser.next_event()
            except HTTPError as exc:
                status = exc.status
                break
        assert status == 431 and biggest < 65536 + 700 * 6


# -- the whole-head path and the line-by-line path agree ----------------------------

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
VALUE_BYTES = [9] + list(range(32, 127)) + list(range(128, 256))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(TOKEN_CHARS, min_size=1, max_size=12),
                          st.lists(st.sampled_from(VALUE_BYTES), max_size=20).map(bytes)),
                max_size=8),
       st.sampled_from([b'GET', b'POST', b'M-1']), st.sampled_from([b'1.1', b'1.0']))
def test_a_head_in_one_piece_and_a_byte_at_a_time_agree(fields, method, version):
    """Any well-formed head (values with spaces and tabs at their ends, bytes
    above 127, names of every token character): the pattern for the whole head
    finds exactly what the line-by-line path finds."""
    head = (method + b' /x HTTP/' + version + b'\r\nHost: a\r\n'
            + b''.join(name.encode() + b':' + value + b'\r\n' for name, value in fields)
            + b'\r\n')
    whole = parse(head)
    assert whole == parse([head[i:i + 1] for i in range(len(head))])
    parser = RequestParser()
    parser.feed(head)
    try:
        taken = parser._whole_head()
    except HTTPError:               # the framing (Host, lengths...) refused it: both paths do
        assert whole[1] is not None
    else:
        assert taken is not None, 'the whole-head path declined a well-formed head'


@pytest.mark.parametrize('limits, status', [({'max_line': 40}, None), ({'max_head': 30}, 431),
                                            ({'max_headers': 2}, 431)])
def test_the_whole_head_path_leaves_heads_near_a_limit_to_the_lines(limits, status):
    head = b'GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Long: ' + b'v' * 20 + b'\r\n\r\n'
    parser = RequestParser(**limits)
    parser.feed(head)
    assert parser._whole_head() is None
    assert status_of(head, **limits) == status

"""tale's request parser against the published test corpus of another parser.

http-parser, Node.js's HTTP parser before llhttp (MIT licence), states in its
test.c what it makes of about a hundred and twenty requests: the method,
target, version, headers, body and keep-alive of the good ones, and an error
for the bad ones.  tools/http_parser_corpus.py extracts them into
tests/corpora/http-parser/requests.json (see the README there).  These tests
do not know tale's parser: the expectations are http-parser's.

Each vector goes through `RequestParser` whole, a byte at a time and in
random pieces, and the verdict must be the same every way.  It is then
compared with http-parser's.  tale is stricter than http-parser on purpose
in a few ways; every vector where the two disagree is in DIFFERENCES, the one
table of intended differences, with the rule and the reason, and the table
is exact both ways: a vector outside it must agree, a vector inside it must
disagree.  book/reliability.md shows the same table; a test checks they match.

Many vectors are HTTP/1.1 requests without a Host header, which RFC 9112
requires and tale refuses.  So that the rest of such a vector is still
compared, each is also checked with a Host line added after its request
line (http-parser's verdict does not depend on Host): its entry in the table
is NO_HOST when that version agrees with http-parser, and names the other
difference when it does not.
"""
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from test_ch16_http_parser import parse     # events as tuples, or the error: (status, reason)

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT / 'tests' / 'corpora' / 'http-parser'
CORPUS = json.loads((CORPUS_DIR / 'requests.json').read_text())
VECTORS = CORPUS['vectors']
BY_ID = {v['id']: v for v in VECTORS}
EXPECTED_COUNT = 123             # 47 of requests[], 76 of test_simple and the helpers

# -- the one table of intended differences -----------------------------------------------

# reason: (the rule, why tale holds to it)
REASONS = {
    'NO_HOST': (
        'RFC 9112 §3.2: a client MUST send Host in an HTTP/1.1 request; a server MUST '
        'respond 400 to one that lacks it or has more than one',
        'which host a request is for must not be left for a proxy and a server to guess '
        'differently; with a Host line added, these vectors agree with http-parser'),
    'OBS_FOLD': (
        'RFC 9112 §5.2: a server MUST either reject obs-fold with 400 or replace it with '
        'spaces',
        'a folded line is read as a new header by one parser and as part of a value by '
        'another, the root of request smuggling'),
    'BARE_LF': (
        'RFC 9112 §2.2: a line ends with CRLF; a recipient MAY accept a bare LF',
        'parsers that split lines differently see different headers in the same bytes'),
    'UPGRADE': (
        'RFC 9110 §7.8 and §9.3.6: after Upgrade or CONNECT the connection becomes '
        'another protocol only once the server agrees, and a server MAY ignore Upgrade',
        'tale serves HTTP/1.1 only: it hands such a request to the application like any '
        'other and reads the bytes after it as HTTP, which http-parser hands over'),
    'VERSION': (
        'RFC 9112 §2.3: HTTP-version is "HTTP/" DIGIT "." DIGIT; a server answers only '
        'the versions it implements (RFC 9110 §15.6.6: 505)',
        'HTTP/0.9 has no headers and no framing, and "ICE/1.0" is not HTTP'),
    'TARGET_BYTES': (
        'RFC 9112 §3.2 and RFC 3986: a request-target is visible ASCII; other bytes must '
        'be percent-encoded',
        'raw UTF-8 in a target is read one way by one component and another way by the '
        'next'),
    'ANY_METHOD': (
        'RFC 9110 §9: a method is any token; an unknown method is the server\'s to answer '
        '(501 or 405), not the parser\'s to refuse',
        'http-parser knows a fixed list of methods; tale parses any token and leaves the '
        'method to the application'),
    'CL_AND_TE': (
        'RFC 9112 §6.1: a server MAY reject a request with both Content-Length and '
        'Transfer-Encoding, and otherwise MUST read it by Transfer-Encoding and close the '
        'connection after it',
        'a server and a proxy that frame the same body by different headers is request '
        'smuggling; http-parser accepts it only in a lenient mode (allow_chunked_length)'),
    'UNKNOWN_CODING': (
        'RFC 9112 §6.1: with Transfer-Encoding, chunked must be the final coding',
        'the body of "Transfer-Encoding: deflate, chunked" has the chunked framing, but '
        'tale does not implement deflate and answers 501 Not Implemented'),
}

DIFFERENCES = {
    # vector id in requests.json: reason in REASONS
    'DUMBLUCK': 'NO_HOST',
    'FRAGMENT_IN_URI': 'NO_HOST',
    'GET_NO_HEADERS_NO_BODY': 'NO_HOST',
    'GET_ONE_HEADER_NO_BODY': 'NO_HOST',
    'POST_IDENTITY_BODY_WORLD': 'NO_HOST',
    'POST_CHUNKED_ALL_YOUR_BASE': 'NO_HOST',
    'TWO_CHUNKS_MULT_ZERO_END': 'NO_HOST',
    'CHUNKED_W_TRAILING_HEADERS': 'NO_HOST',
    'CHUNKED_W_NONSENSE_AFTER_LENGTH': 'NO_HOST',
    'WITH_QUOTES': 'NO_HOST',
    'QUERY_URL_WITH_QUESTION_MARK_GET': 'NO_HOST',
    'PREFIX_NEWLINE_GET': 'NO_HOST',
    'REPORT_REQ': 'NO_HOST',
    'QUERY_TERMINATED_HOST': 'NO_HOST',
    'QUERY_TERMINATED_HOSTPORT': 'NO_HOST',
    'SPACE_TERMINATED_HOSTPORT': 'NO_HOST',
    'PROXY_WITH_BASIC_AUTH': 'NO_HOST',
    'test_simple_type:4422': 'NO_HOST',
    'test_simple:4559': 'NO_HOST',
    **{f'test_simple:4611:{method}': 'NO_HOST' for method in (
        'DELETE GET HEAD POST PUT OPTIONS TRACE COPY LOCK MKCOL MOVE PROPFIND PROPPATCH '
        'SEARCH UNLOCK BIND REBIND UNBIND ACL REPORT MKACTIVITY CHECKOUT MERGE M-SEARCH '
        'NOTIFY SUBSCRIBE UNSUBSCRIBE PATCH PURGE MKCALENDAR LINK UNLINK').split()},
    'LINE_FOLDING_IN_HEADER': 'OBS_FOLD',
    'CONNECTION_MULTI': 'OBS_FOLD',
    'CONNECTION_MULTI_LWS_CRLF': 'OBS_FOLD',
    'POST_MULTI_LINE_TE_LAST_CHUNKED': 'OBS_FOLD',
    'test_simple_type:4450': 'OBS_FOLD',
    'dumbluck2': 'OBS_FOLD',
    'LINE_FOLDING_IN_HEADER_WITH_LF': 'BARE_LF',
    'test_header_nread_value:3977': 'BARE_LF',
    'UPGRADE_REQUEST': 'UPGRADE',
    'CONNECT_REQUEST': 'UPGRADE',
    'CONNECT_CAPS_REQUEST': 'UPGRADE',
    'HOSTNAME_UNDERSCORE': 'UPGRADE',
    'CONNECTION_MULTI_LWS': 'UPGRADE',
    'UPGRADE_POST_REQUEST': 'UPGRADE',
    'CONNECT_WITH_BODY_REQUEST': 'UPGRADE',
    'NO_HTTP_VERSION': 'VERSION',
    'SOURCE_ICE_REQUEST': 'VERSION',
    'UTF8_PATH_REQ': 'TARGET_BYTES',
    'POST_MULTI_TE_LAST_CHUNKED': 'UNKNOWN_CODING',
    'CHUNKED_CONTENT_LENGTH': 'CL_AND_TE',
    **{f'test_simple:4631:{method}': 'ANY_METHOD' for method in (
        'ASDF C****** COLA GEM GETA M**** MKCOLA PROPPATCHA PUN PX SA').split()},
}

METHODS = {'MSEARCH': 'M-SEARCH'}      # http-parser's enum names that are not the method
HOST_LINE = b'Host: example.com'


# -- running a vector --------------------------------------------------------------------

def raw_of(vector):
    if vector['raw'] is not None:
        return vector['raw'].encode('latin-1')
    return b''.join(text.encode('latin-1') * times for text, times in vector['raw_parts'])


def request_line_end(raw):
    """The index just after the request line's line end (CRLF or LF), past empty lines."""
    start = len(raw) - len(raw.lstrip(b'\r\n'))
    end = raw.find(b'\n', start)
    return start, end + 1 if end >= 0 else -1


def needs_host(raw):
    """An HTTP/1.1 request line followed by a head without a Host line."""
    start, end = request_line_end(raw)
    if end < 0 or not raw[start:end].rstrip(b'\r\n').endswith(b' HTTP/1.1'):
        return False
    head = raw[end:].split(b'\r\n\r\n')[0].split(b'\n\n')[0]
    return re.search(rb'(?im)^host:', head) is None


def with_host(raw):
    """The request with a Host line added after its request line, in its own line end."""
    start, end = request_line_end(raw)
    eol = b'\r\n' if raw[end - 2:end] == b'\r\n' else b'\n'
    return raw[:end] + HOST_LINE + eol + raw[end:]


def splits(raw, seed):
    """The ways the bytes are fed: whole, a byte at a time, cut in two at every
    place (as http-parser's own test_message does), and random pieces."""
    yield 'whole', [raw]
    yield 'bytes', [raw[i:i + 1] for i in range(len(raw))]
    # every place; in the two longest vectors (100 and 260 kB), every place in their
    # first and last 200 bytes
    places = range(1, len(raw)) if len(raw) <= 4096 else [*range(1, 200), *range(-200, 0)]
    for i in places:
        yield f'cut at {i}', [raw[:i], raw[i:]]
    rng = random.Random(seed)
    for k in range(3):
        cuts = sorted(rng.sample(range(1, len(raw)), min(len(raw) - 1, rng.randint(1, 8))))
        yield f'random{k}', [raw[i:j] for i, j in zip([0] + cuts, cuts + [len(raw)])]


def tale_verdict(vector, raw):
    """tale's verdict, the same however the bytes are cut (else the test fails)."""
    # http-parser's test_simple reads the error before the end of input: an
    # incomplete request is no error.  A message of requests[] ends at EOF.
    eof = vector['source'] == 'requests[]' or vector['expect'] != 'HPE_OK'
    verdicts = {how: parse(pieces, eof) for how, pieces in splits(raw, vector['id'])}
    first = verdicts['whole']
    for how, verdict in verdicts.items():
        assert verdict == first, (vector['id'], how, verdict, first)
    return first


def expected_request(vector, host):
    """What http-parser says of a requests[] vector, in tale's terms.

    http-parser reports the fields of a chunked body's trailer section after
    the headers, in one list; tale gives them in `EndOfMessage.trailers`.
    """
    fields = [(name.lower(), value) for name, value in vector['headers']]
    if host:
        fields.insert(0, ('host', HOST_LINE.split(b': ')[1].decode()))
    method = METHODS.get(vector['method'], vector['method'])
    version = f"{vector['http_major']}.{vector['http_minor']}"
    length = vector['content_length']         # -1: none; tale says None if chunked, else 0
    if length == -1:
        length = None if any(name == 'transfer-encoding' for name, _ in fields) else 0
    return (method, vector['request_url'], version, fields, vector['body'].encode('latin-1'),
            vector['should_keep_alive'], length)


def tale_requests(events):
    """tale's events as (method, target, version, headers + trailers, body, keep_alive,
    content_length)."""
    requests = []
    for event in events:
        if event[0] == 'request':
            requests.append([*event[1:4], list(event[4]), b'', *event[5:7]])
        elif event[0] == 'data':
            requests[-1][4] += event[1]
        else:
            requests[-1][3] += event[1]
    return [tuple(r) for r in requests]


def agrees(vector, verdict, host):
    """Whether tale's verdict is http-parser's: the same request, or a refusal for both."""
    events, error = verdict
    if vector['expect'] != 'HPE_OK':
        return error is not None
    if vector['source'] != 'requests[]':
        return error is None
    expected = expected_request(vector, host)
    requests = tale_requests(events)
    if vector['upgrade'] is not None:
        # http-parser hands the connection over after the head (CONNECT or
        # Upgrade); tale reads on as HTTP, so it cannot agree.  The head it
        # read must still be the same one.
        assert not requests or requests[0][:4] == expected[:4], (vector['id'], requests)
        return False
    if error is not None:
        return False
    # the same request as http-parser's, or a wrong parse: that fails outright
    assert requests == [expected], (vector['id'], requests, expected)
    return True


# -- the tests ---------------------------------------------------------------------------

def test_the_corpus_has_every_vector_once():
    assert CORPUS['count'] == len(VECTORS) == EXPECTED_COUNT
    assert len(BY_ID) == len(VECTORS)
    assert sum(v['source'] == 'requests[]' for v in VECTORS) == 47
    assert {v['expect'] for v in VECTORS} >= {'HPE_OK', 'HPE_INVALID_METHOD',
                                             'HPE_INVALID_HEADER_TOKEN'}


def test_the_corpus_is_what_the_tool_extracts_from_test_c(tmp_path):
    test_c = os.environ.get('HTTP_PARSER_TEST_C')
    if not test_c or not Path(test_c).exists():
        pytest.skip('set HTTP_PARSER_TEST_C to http-parser 2.9.4\'s test.c to check the extraction')
    out = tmp_path / 'requests.json'
    subprocess.run([sys.executable, str(ROOT / 'tools' / 'http_parser_corpus.py'), test_c,
                    '-o', str(out)], check=True, capture_output=True)
    assert out.read_text() == (CORPUS_DIR / 'requests.json').read_text()


def test_the_table_names_only_vectors_and_reasons_that_exist():
    assert set(DIFFERENCES) <= set(BY_ID)
    assert set(DIFFERENCES.values()) == set(REASONS)


@pytest.mark.parametrize('vector', VECTORS, ids=[v['id'] for v in VECTORS])
def test_tale_agrees_with_http_parser_but_for_the_table(vector):
    raw = raw_of(vector)
    verdict = tale_verdict(vector, raw)
    agreed = agrees(vector, verdict, host=False)
    hostless = needs_host(raw)
    if hostless:
        verdict = tale_verdict(vector, with_host(raw))
    agreed_with_host = agrees(vector, verdict, hostless)
    reason = DIFFERENCES.get(vector['id'])
    if reason is None:
        assert agreed and agreed_with_host, ('not in the table, yet tale disagrees',
                                             vector['expect'], verdict)
    elif reason == 'NO_HOST':
        assert hostless and not agreed and agreed_with_host, (
            'NO_HOST: without Host tale refuses, with a Host line it must agree', verdict)
    else:
        assert not agreed_with_host, (f'in the table ({reason}), yet tale agrees', verdict)


def accepted_messages():
    """The requests[] vectors tale accepts (with a Host line where they lack one)."""
    for vector in VECTORS:
        if vector['source'] == 'requests[]' and DIFFERENCES.get(vector['id'], 'NO_HOST') == 'NO_HOST':
            raw = raw_of(vector)
            host = needs_host(raw)
            yield vector, (with_host(raw) if host else raw), expected_request(vector, host)


def test_the_accepted_vectors_pipelined_on_one_connection():
    """Like http-parser's own test_multiple3: messages back to back, however cut.

    Every accepted keep-alive message, then one that closes: tale must find
    each, in order, with nothing carried over from the one before.
    """
    messages = list(accepted_messages())
    keep = [m for m in messages if m[0]['should_keep_alive']]
    last = next(m for m in messages if not m[0]['should_keep_alive'])
    assert len(keep) >= 25
    stream = b''.join(raw for _, raw, _ in keep) + last[1]
    expected = [request for _, _, request in keep] + [last[2]]
    for how, pieces in splits(stream, 'pipelined'):
        events, error = parse(pieces, eof=True)
        assert error is None, (how, error)
        assert tale_requests(events) == expected, how


def book_table():
    """The table of intended differences in book/reliability.md: reason -> ids.

    It is a list, one item per reason, `(`REASON`)` in its first line; the
    vectors are named in backquotes, `prefix:*` standing for every vector
    whose id starts with `prefix:`.  Other quoted words are prose.
    """
    text = (ROOT / 'book' / 'reliability.md').read_text()
    section = text[text.index('## Fuzzing, and the one-byte-at-a-time rule'):]
    section = section[:section.index('\n## ')]
    table = {}
    for item in re.findall(r'^- .*?(?=^- |^\n|\Z)', section, re.M | re.S):
        reason = re.search(r'\(`(\w+)`\)', item)
        if reason is None:
            continue
        ids = set()
        for word in re.findall(r'`([^`]+)`', item):
            if word.endswith(':*'):
                matched = {i for i in BY_ID if i.startswith(word[:-1])}
                assert matched, word
                ids |= matched
            elif word in BY_ID:
                ids.add(word)
        table[reason.group(1)] = ids
    return section, table


def test_the_book_shows_the_same_table():
    section, table = book_table()
    expected = {}
    for ident, reason in DIFFERENCES.items():
        expected.setdefault(reason, set()).add(ident)
    assert table == expected
    assert f'{len(VECTORS)} requests' in section
    assert f"{sum(v['source'] == 'requests[]' for v in VECTORS)} whole messages" in section
    methods = [i for i in BY_ID if i.startswith('test_simple:4611:')]
    assert f'the {len(methods)} known methods of `test_simple:4611:*`' in ' '.join(section.split())

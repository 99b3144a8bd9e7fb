"""tale's request parser against http-parser itself, on random valid requests.

The corpus test (test_http_corpus.py) compares tale with what http-parser's
own suite says.  This one runs http-parser: its C source, from the same
Debian source package (http-parser 2.9.4-5, MIT), is compiled into a small
library and driven through ctypes.  Random streams of requests that are
valid HTTP/1.1 in the part of the language both parsers speak (methods
http-parser knows, a Host where HTTP/1.1 needs one, CRLF line ends, no
folding, chunked only in HTTP/1.1) must be accepted by both and parsed alike:
the same requests, methods, targets, versions, headers (names in any case;
values without their trailing whitespace, which RFC 9110 §5.5 says is not part
of the value and which http-parser keeps), bodies, trailers and keep-alive.

The C source is not kept in this repository: set HTTP_PARSER_SRC to the
directory that holds http_parser.c and http_parser.h (`apt-get source
http-parser=2.9.4-5`, see tests/corpora/http-parser/README.md; .ci/run does
it).  Without it, or without a C compiler, the test is skipped.
"""
import ctypes
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from test_ch16_http_parser import parse
from test_http_corpus import tale_requests

WRAPPER = r'''
#include "http_parser.h"
#include <stdio.h>
#include <string.h>

/* Each callback appends one record to `out`: a letter, the length, ':', the bytes. */
static char *out;
static size_t room, used;

static void put(char tag, const char *at, size_t n) {
  if (used + n + 32 >= room) { used = room; return; }     /* overflow: caller sees it */
  used += sprintf(out + used, "%c%zu:", tag, n);
  memcpy(out + used, at, n);
  used += n;
}
static int url(http_parser *p, const char *at, size_t n) { put('U', at, n); return 0; }
static int field(http_parser *p, const char *at, size_t n) { put('F', at, n); return 0; }
static int value(http_parser *p, const char *at, size_t n) { put('V', at, n); return 0; }
static int body(http_parser *p, const char *at, size_t n) { put('B', at, n); return 0; }
static int head(http_parser *p) {
  char text[64];
  int n = sprintf(text, "%s %d.%d", http_method_str(p->method), p->http_major, p->http_minor);
  put('H', text, n);
  return 0;
}
static int end(http_parser *p) {
  put('E', http_should_keep_alive(p) ? "1" : "0", 1);
  return 0;
}

/* Parse `data` as a stream of requests, then the end of input; return the
 * length of the records, with an 'R' record naming the error if there is one. */
int parse_requests(const char *data, size_t len, char *buffer, size_t size) {
  http_parser parser;
  http_parser_settings settings;
  memset(&settings, 0, sizeof settings);
  settings.on_url = url;
  settings.on_header_field = field;
  settings.on_header_value = value;
  settings.on_body = body;
  settings.on_headers_complete = head;
  settings.on_message_complete = end;
  out = buffer; room = size; used = 0;
  http_parser_init(&parser, HTTP_REQUEST);
  size_t n = http_parser_execute(&parser, &settings, data, len);
  if (n == len && HTTP_PARSER_ERRNO(&parser) == HPE_OK && !parser.upgrade)
    http_parser_execute(&parser, &settings, NULL, 0);
  if (parser.upgrade)
    put('R', "upgrade", 7);
  else if (HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
    const char *name = http_errno_name(HTTP_PARSER_ERRNO(&parser));
    put('R', name, strlen(name));
  }
  return (int)used;
}
'''


@pytest.fixture(scope='module')
def http_parser(tmp_path_factory):
    """`parse(data)`: http-parser's requests and error, as (requests, error or None)."""
    src = os.environ.get('HTTP_PARSER_SRC')
    if not src or not (Path(src) / 'http_parser.c').exists():
        pytest.skip('set HTTP_PARSER_SRC to the http-parser 2.9.4-5 source to run it')
    compiler = shutil.which('cc') or shutil.which('gcc')
    if compiler is None:
        pytest.skip('no C compiler')
    build = tmp_path_factory.mktemp('http-parser')
    (build / 'wrapper.c').write_text(WRAPPER)
    library = build / 'libhttpparser.so'
    subprocess.run([compiler, '-O1', '-shared', '-fPIC', f'-I{src}', '-o', str(library),
                    str(build / 'wrapper.c'), str(Path(src) / 'http_parser.c')],
                   check=True, capture_output=True)
    lib = ctypes.CDLL(str(library))
    lib.parse_requests.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                   ctypes.c_size_t]
    buffer = ctypes.create_string_buffer(1 << 20)

    def parse(data):
        used = lib.parse_requests(data, len(data), buffer, len(buffer))
        assert used < len(buffer) - 1, 'the record buffer overflowed'
        return records(buffer.raw[:used])
    return parse


def records(data):
    """http-parser's callbacks as (method, target, version, fields, body, keep_alive)."""
    requests, error, i = [], None, 0
    current = None
    while i < len(data):
        tag = data[i:i + 1]
        colon = data.index(b':', i)
        n = int(data[i + 1:colon])
        text, i = data[colon + 1:colon + 1 + n], colon + 1 + n
        if tag == b'U':
            if current is None or 'keep_alive' in current or 'method' in current:
                current = {'target': b'', 'fields': [], 'body': b''}
                requests.append(current)
            current['target'] += text
        elif tag == b'F':
            fields = current['fields']
            if not fields or fields[-1][1] is not None:
                fields.append([b'', None])
            fields[-1][0] += text
        elif tag == b'V':
            fields = current['fields']
            fields[-1][1] = (fields[-1][1] or b'') + text
        elif tag == b'H':
            current['method'], current['version'] = text.decode().split()
        elif tag == b'B':
            current['body'] += text
        elif tag == b'E':
            current['keep_alive'] = text == b'1'
        else:
            error = text.decode()
    done = [(r['method'], r['target'].decode('latin-1'), r['version'],
             [(name.decode('latin-1').lower(), (value or b'').decode('latin-1').rstrip(' \t'))
              for name, value in r['fields']],
             r['body'], r['keep_alive'])
            for r in requests if 'keep_alive' in r]
    return done, error


# -- random valid requests, in what both parsers speak ---------------------------------

TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
PCHAR = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@"
VCHAR = bytes(range(0x21, 0x7f)) + bytes(range(0x80, 0x100))
SPECIAL = ('host', 'content-length', 'transfer-encoding', 'connection', 'proxy-connection',
           'upgrade')
METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE']


def word(r, chars, low=1, high=8):
    return ''.join(r.choice(chars) for _ in range(r.randint(low, high)))


def target(r, method):
    path = ''.join('/' + word(r, PCHAR, 0, 6) for _ in range(r.randint(1, 3)))
    if r.random() < 0.3:
        path += '?' + word(r, PCHAR + '/?', 0, 10)
    if method == 'OPTIONS' and r.random() < 0.2:
        return '*'
    if r.random() < 0.2:
        return f"http://{word(r, 'abcxyz.', 1, 8)}{r.choice(['', ':8080'])}{path}"
    return path.replace('%', '')


def field_value(r):
    inner = b''.join(bytes([r.choice(VCHAR)]) + r.choice([b'', b' ', b'\t'])
                     for _ in range(r.randint(0, 8))).rstrip(b' \t')
    return r.choice([b'', b' ', b'  ', b'\t']) + inner + r.choice([b'', b' ', b'\t '])


def request(r):
    """One valid request: its bytes, and whether it leaves the connection open."""
    method = r.choice(METHODS)
    version = r.choice(['1.1', '1.1', '1.0'])
    lines = []
    if version == '1.1' or r.random() < 0.5:
        host = r.choice(['a', 'example.com', 'h:80', '[::1]:8080', 'x.y.z'])
        lines.append(b'%s:%s%s' % (r.choice([b'Host', b'host', b'HOST']),
                                   r.choice([b'', b' ']), host.encode()))
    for _ in range(r.randint(0, 5)):
        name = word(r, TCHAR)
        if not name.lower().startswith(SPECIAL):
            lines.append(name.encode() + b':' + field_value(r))
    # not both close and keep-alive: for such an HTTP/1.0 request http-parser keeps
    # the connection, tale closes it (RFC 9112 §9.6: after close, no more requests)
    options = r.sample([r.choice(['close', 'keep-alive', 'Keep-Alive']), 'foo', 'TE'],
                       r.randint(0, 2))
    if options:
        lines.append(b'Connection: ' + ', '.join(options).encode())
    closes = ('close' in options or
              (version == '1.0' and not {'keep-alive', 'Keep-Alive'} & set(options)))
    framing = r.choice(['none', 'length', 'chunked'] if version == '1.1' else ['none', 'length'])
    body = b''
    if framing == 'length':
        body = bytes(r.randrange(256) for _ in range(r.randint(0, 20)))
        lines.append(b'Content-Length:%s%d%s' % (r.choice([b'', b' ']), len(body),
                                                  r.choice([b'', b' '])))
    elif framing == 'chunked':
        lines.append(b'Transfer-Encoding: ' + r.choice([b'chunked', b'Chunked']))
        for _ in range(r.randint(0, 3)):
            data = bytes(r.randrange(256) for _ in range(r.randint(1, 20)))
            size = r.choice([b'%x', b'%X', b'0%x']) % len(data)
            extension = r.choice([b'', b';a', b';a=b', b';n="q v"'])
            body += size + extension + b'\r\n' + data + b'\r\n'
        trailers = [word(r, TCHAR) for _ in range(r.randint(0, 2))]
        body += b'0\r\n' + b''.join(name.encode() + b': t\r\n' for name in trailers
                                    if not name.lower().startswith(SPECIAL)) + b'\r\n'
    r.shuffle(lines)
    head = f'{method} {target(r, method)} HTTP/{version}\r\n'.encode()
    return (r.choice([b'', b'', b'\r\n']) + head + b''.join(line + b'\r\n' for line in lines)
            + b'\r\n' + body), closes


def stream(r):
    parts = []
    for _ in range(r.randint(1, 3)):
        data, closes = request(r)
        parts.append(data)
        if closes:
            break
    return b''.join(parts)


def test_a_known_request_is_read_the_same_by_both(http_parser):
    """The comparison is not vacuous: http-parser's records are read correctly."""
    data = (b'POST /x?y HTTP/1.1\r\nHost: a\r\nX-Thing:  two words \t\r\n'
            b'Transfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nT: 1\r\n\r\n'
            b'GET / HTTP/1.0\r\n\r\n')
    expected = [('POST', '/x?y', '1.1', [('host', 'a'), ('x-thing', 'two words'),
                                          ('transfer-encoding', 'chunked'), ('t', '1')],
                 b'abc', True),
                ('GET', '/', '1.0', [], b'', False)]
    assert http_parser(data) == (expected, None)
    events, error = parse([data], eof=True)
    assert error is None
    assert [r[:6] for r in tale_requests(events)] == expected


@pytest.mark.parametrize('seed', range(4))
def test_random_valid_requests_are_read_the_same_by_both(http_parser, seed):
    r = random.Random(seed)
    for _ in range(1000):
        data = stream(r)
        theirs, their_error = http_parser(data)
        events, our_error = parse([data], eof=True)
        ours = [request[:6] for request in tale_requests(events)]
        assert (their_error, our_error) == (None, None), data
        assert ours == theirs, data

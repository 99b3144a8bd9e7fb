#!/usr/bin/env python3
"""Extract the HTTP request vectors of http-parser's test.c into JSON.

http-parser (Joyent and Node.js contributors, MIT licence) was Node.js's
HTTP parser before llhttp; its test suite, ``test.c``, states what the parser
makes of a few hundred messages.  This tool reads that file and writes every
*request* case whose outcome it states:

* each entry of the ``requests[]`` array of ``struct message`` (the bytes, and
  the method, URL, version, headers, body, keep-alive and upgrade expected);
* each ``test_simple(...)`` / ``test_simple_type(..., HTTP_REQUEST)`` call of
  ``main``, with the error it expects (``HPE_OK`` when none), including the
  two loops over good and bad methods;
* the requests of the ``test_*(HTTP_REQUEST)`` helpers that send a request
  line and then bytes that must fail (or pass) with a given error.

Usage::

    python tools/http_parser_corpus.py PATH/TO/test.c [-o tests/corpora/http-parser/requests.json]

The output is stable (source order), one entry per vector, each with the
line of test.c it comes from.  C string literals are decoded exactly
(adjacent literals concatenated, octal/hex/character escapes, UTF-8 source
bytes kept as bytes); the bytes are stored as a Latin-1 string, so each
character is one byte.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / 'tests' / 'corpora' / 'http-parser' / 'requests.json'

TOKEN = re.compile(rb'''
    (?P<ws>\s+|\\\n)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<pp>\#(?:[^\n\\]|\\.)*)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<chr>'(?:[^'\\\n]|\\.)*')
  | (?P<num>0[xX][0-9A-Fa-f]+|[0-9]+)
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\.\.\.|->|[{}()\[\];,.=*&?:!<>+\-/%|^~])
''', re.S | re.X)

ESCAPES = {b'n': 10, b't': 9, b'r': 13, b'0': 0, b'\\': 92, b'"': 34, b"'": 39,
           b'a': 7, b'b': 8, b'f': 12, b'v': 11, b'?': 63}


class Tok:
    __slots__ = ('kind', 'text', 'line')

    def __init__(self, kind, text, line):
        self.kind, self.text, self.line = kind, text, line

    def __repr__(self):
        return f'{self.kind}:{self.text!r}@{self.line}'


def tokenize(source):
    """C tokens with their line numbers; preprocessor lines kept as tokens.

    What lies between `#if 0` and its `#endif` is left out, as the compiler does.
    """
    tokens, pos, line, dead = [], 0, 1, 0
    while pos < len(source):
        match = TOKEN.match(source, pos)
        if match is None:
            raise SyntaxError(f'test.c line {line}: cannot read {source[pos:pos + 20]!r}')
        kind, text = match.lastgroup, match.group()
        if kind == 'pp' and (dead or text.split()[:2] == [b'#if', b'0']):
            words = text.split()
            dead += (words[0] in (b'#if', b'#ifdef', b'#ifndef')) - (words[0] == b'#endif')
        elif kind not in ('ws', 'comment') and not dead:
            tokens.append(Tok(kind, text, line))
        line += text.count(b'\n')
        pos = match.end()
    return tokens


def c_string(literal):
    """The bytes of one C string literal (with its quotes), escapes decoded."""
    body, out, i = literal[1:-1], bytearray(), 0
    while i < len(body):
        c = body[i:i + 1]
        if c != b'\\':
            out += c
            i += 1
            continue
        e = body[i + 1:i + 2]
        if e in b'01234567' and e:
            digits = re.match(rb'[0-7]{1,3}', body[i + 1:]).group()
            out.append(int(digits, 8))
            i += 1 + len(digits)
        elif e == b'x':
            digits = re.match(rb'[0-9A-Fa-f]+', body[i + 2:]).group()
            out.append(int(digits, 16) & 0xFF)
            i += 2 + len(digits)
        elif e in ESCAPES:
            out.append(ESCAPES[e])
            i += 2
        else:
            raise SyntaxError(f'unknown escape \\{e.decode()} in {literal!r}')
    return bytes(out)


class Reader:
    """A cursor over the tokens, with the few C forms test.c uses."""

    def __init__(self, tokens, pos=0):
        self.toks, self.pos = tokens, pos

    def peek(self, skip_pp=True):
        while skip_pp and self.toks[self.pos].kind == 'pp':
            self.pos += 1
        return self.toks[self.pos]

    def next(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def expect(self, text):
        tok = self.next()
        if tok.text != text.encode():
            raise SyntaxError(f'test.c line {tok.line}: expected {text!r}, saw {tok.text!r}')
        return tok

    def strings(self):
        """Adjacent string literals, concatenated."""
        out = b''
        while self.peek().kind == 'str':
            out += c_string(self.next().text)
        return out

    def value(self):
        """A string, a number, a name, or a brace list of values."""
        tok = self.peek()
        if tok.kind == 'str':
            return self.strings()
        if tok.text == b'{':
            self.next()
            items = []
            while self.peek().text != b'}':
                items.append(self.value())
                if self.peek().text == b',':
                    self.next()
            self.next()
            return items
        self.next()
        if tok.text == b'-' and self.peek().kind == 'num':
            return -int(self.next().text, 0)
        if tok.kind == 'num':
            return int(tok.text, 0)
        if tok.kind == 'id':
            return {b'TRUE': 1, b'FALSE': 0}.get(tok.text, tok.text.decode())
        raise SyntaxError(f'test.c line {tok.line}: unexpected {tok.text!r}')

    def until(self, text):
        """Skip to just after the next token `text` at this nesting level."""
        depth = 0
        while True:
            tok = self.next()
            if tok.text in (b'(', b'{', b'['):
                depth += 1
            elif tok.text in (b')', b'}', b']'):
                depth -= 1
            if depth <= 0 and tok.text == text:
                return tok


def latin1(data):
    return data.decode('latin-1')


def find(tokens, *texts, start=0):
    """The index of the first run of tokens whose texts are `texts`."""
    texts = [t.encode() for t in texts]
    for i in range(start, len(tokens) - len(texts) + 1):
        if all(tokens[i + k].text == t for k, t in enumerate(texts)):
            return i
    raise SyntaxError(f'test.c: {" ".join(t.decode() for t in texts)} not found')


def message_array(tokens):
    """The entries of `const struct message requests[] = { ... };`."""
    r = Reader(tokens, find(tokens, 'const', 'struct', 'message', 'requests', '[', ']', '='))
    r.until(b'=')
    vectors, macro, condition = [], None, None
    depth = 0
    while True:
        tok = r.toks[r.pos]
        r.pos += 1
        if tok.kind == 'pp':
            words = tok.text.split()
            if words[0] == b'#define':
                macro = words[1].decode()
            elif words[0] == b'#if':
                condition = b' '.join(words[1:]).decode()
            elif words[0] == b'#endif':
                condition = None
            continue
        if tok.text == b'{' and depth == 0:
            depth = 1
            continue
        if tok.text == b'}' and depth == 1:
            return vectors
        if tok.text == b',':
            continue
        if tok.text != b'{':
            raise SyntaxError(f'test.c line {tok.line}: expected an entry, saw {tok.text!r}')
        fields, line = {}, tok.line
        while r.peek().text != b'}':
            r.expect('.')
            name = r.next().text.decode()
            r.expect('=')
            fields[name] = r.value()
            if r.peek().text == b',':
                r.next()
        r.next()
        vectors.append(message_vector(macro, condition, line, fields))
        macro = None


def message_vector(macro, condition, line, f):
    if f.get('type', 'HTTP_REQUEST') != 'HTTP_REQUEST':
        raise SyntaxError(f'test.c line {line}: a response in requests[]')
    headers = [[latin1(name), latin1(value)] for name, value in f.get('headers', [])]
    if len(headers) != f['num_headers']:
        raise SyntaxError(f'test.c line {line}: num_headers disagrees with headers')
    upgrade = f.get('upgrade', 0)
    vector = {
        'id': macro,
        'line': line,
        'source': 'requests[]',
        'name': latin1(f['name']),
        'raw': latin1(f['raw']),
        'expect': 'HPE_OK',
        'method': f['method'].removeprefix('HTTP_'),
        'request_url': latin1(f.get('request_url', b'')),
        'http_major': f['http_major'],
        'http_minor': f['http_minor'],
        'headers': headers,
        'body': latin1(f.get('body', b'')),
        'should_keep_alive': bool(f['should_keep_alive']),
        'message_complete_on_eof': bool(f['message_complete_on_eof']),
        # NULL (0 or absent): not an upgrade; a string: the bytes after the head
        'upgrade': None if upgrade == 0 else latin1(upgrade),
        'num_chunks_complete': f.get('num_chunks_complete', 0),
        'chunk_lengths': f.get('chunk_lengths', []),
    }
    # content_length -1 (a uint64_t with all bits set) says: no Content-Length.
    # allow_chunked_length: a lenient mode, not the default, that accepts
    # Content-Length beside chunked.
    for key in ('content_length', 'allow_chunked_length', 'request_path', 'query_string',
                'fragment', 'host', 'userinfo', 'port'):
        if key in f:
            vector[key] = latin1(f[key]) if isinstance(f[key], bytes) else f[key]
    if condition:
        vector['condition'] = condition
    return vector


def function_body(tokens, name):
    """(start, end) token indexes of the body of the function `name` (its definition)."""
    for i in range(1, len(tokens) - 1):
        if (tokens[i].text == name.encode() and tokens[i + 1].text == b'('
                and tokens[i - 1].text in (b'void', b'int')):
            r = Reader(tokens, i + 1)
            r.until(b')')
            if r.peek().text == b'{':
                start = r.pos
                r.until(b'}')
                return start, r.pos
    raise SyntaxError(f'test.c: function {name} not found')


def local_strings(tokens, start, end):
    """`const char *name = "..." ;` and `static const char *name[] = {...};` in a body."""
    names = {}
    for i in range(start, end - 3):
        if tokens[i].text == b'*' and tokens[i + 1].kind == 'id':
            r = Reader(tokens, i + 2)
            if r.peek().text == b'=':
                r.next()
                if r.peek().kind == 'str':
                    names[tokens[i + 1].text.decode()] = r.strings()
            elif r.peek().text == b'[':
                r.until(b']')
                r.expect('=')
                items = r.value()
                names[tokens[i + 1].text.decode()] = [v for v in items if v != 0]
    return names


def simple_calls(tokens):
    """The test_simple / test_simple_type request calls of main, in order."""
    start, end = function_body(tokens, 'main')
    names = local_strings(tokens, start, end)
    vectors = []
    i = start
    while i < end:
        tok = tokens[i]
        if tok.text in (b'test_simple', b'test_simple_type') and tokens[i + 1].text == b'(':
            r = Reader(tokens, i + 2)
            arg = r.peek()
            if arg.kind == 'str':
                raw = r.strings()
            else:
                raw = arg.text.decode()
                r.next()
            r.expect(',')
            expect = r.value()
            kind = 'HTTP_REQUEST'
            if tok.text == b'test_simple_type':
                r.expect(',')
                kind = r.value()
            if kind == 'HTTP_REQUEST':
                expect = 'HPE_OK' if expect == 0 else expect
                line = tok.line
                function = tok.text.decode()
                if isinstance(raw, bytes):
                    vectors.append(simple(f'{function}:{line}', line, raw, expect, function))
                elif raw in names:
                    vectors.append(simple(raw, line, names[raw], expect, function))
                elif raw == 'buf':
                    vectors += method_loop(tokens, start, i, names, expect)
                else:
                    raise SyntaxError(f'test.c line {line}: cannot resolve {raw}')
            i = r.pos
        else:
            i += 1
    return vectors


def simple(ident, line, raw, expect, source='test_simple'):
    return {'id': ident, 'line': line, 'source': source, 'raw': latin1(raw), 'expect': expect}


def method_loop(tokens, start, call, names, expect):
    """`for (m = LIST; *m; m++) { sprintf(buf, FORMAT, *m); test_simple(buf, E); }`."""
    i = call
    while tokens[i].text != b'for':
        i -= 1
    listname = tokens[i + 4].text.decode()
    fmt_at = find(tokens, 'sprintf', '(', 'buf', ',', start=i)
    fmt = Reader(tokens, fmt_at + 4).strings()
    if fmt_at > call or fmt.count(b'%s') != 1 or b'%' in fmt.replace(b'%s', b''):
        raise SyntaxError(f'test.c line {tokens[i].line}: an unexpected method loop')
    line = tokens[call].line
    return [simple(f'test_simple:{line}:{m.decode()}', line, fmt.replace(b'%s', m), expect)
            for m in names[listname]]


def helpers(tokens):
    """Requests of the `test_xxx(HTTP_REQUEST)` helpers that main calls.

    Each sends the request line chosen by `buf = req ? "REQUEST" : "RESPONSE";`
    then either a literal `buf = "...";` or the `str` it was given (possibly
    many times, in a `for` loop), and asserts the error the parser stops with.
    A helper that only calls another with `(req, "string")` is followed.
    """
    start, end = function_body(tokens, 'main')
    vectors = []
    for i in range(start, end - 3):
        if (tokens[i].kind == 'id' and tokens[i + 1].text == b'('
                and tokens[i + 2].text == b'HTTP_REQUEST' and tokens[i + 3].text == b')'):
            vectors += helper(tokens, tokens[i].text.decode(), tokens[i].line)
        elif (tokens[i].text == b'test_no_overflow_long_body' and tokens[i + 1].text == b'('
                and tokens[i + 2].text == b'HTTP_REQUEST'):
            vectors.append(long_body(tokens, tokens[i].line, int(tokens[i + 4].text)))
    vectors.append(nread(tokens))
    return vectors


def helper(tokens, name, called_at, argument=None):
    start, end = function_body(tokens, name)
    body = tokens[start:end]
    texts = [t.text for t in body]
    if b'?' not in texts:                   # a wrapper of another helper
        out = []
        for k in range(len(body) - 4):
            if (body[k].kind == 'id' and body[k + 1].text == b'(' and body[k + 2].text == b'req'
                    and body[k + 4].kind == 'str'):
                out += helper(tokens, body[k].text.decode(), body[k].line,
                              Reader(body, k + 4).strings())
        if not out:
            raise SyntaxError(f'test.c: {name} is not a helper of a known form')
        return out
    q = next(k for k in range(len(body) - 1) if texts[k] == b'?' and body[k + 1].kind == 'str')
    prefix = Reader(body, q + 1).strings()
    k = q + 1
    while not (texts[k] == b'buf' and texts[k + 1] == b'='):
        k += 1
    rest = Reader(body, k + 2).strings() if body[k + 2].kind == 'str' else argument
    errors = {t.decode() for t in texts if t.startswith(b'HPE_')}
    if rest is None or len(errors) != 1:
        raise SyntaxError(f'test.c: {name} is not a helper of a known form')
    times = 1
    if b'for' in texts:                     # for (i = 0; i < N; i++) { send buf }
        f = texts.index(b'for')
        times = int(texts[texts.index(b'<', f) + 1])
    vector = simple(f'{name}:{called_at}', called_at, prefix, errors.pop(), source=name)
    vector['raw_parts'] = [[latin1(prefix), 1], [latin1(rest), times]]
    vector['raw'] = None if times > 1 else latin1(prefix + rest)
    if vector['raw'] is not None:
        del vector['raw_parts']
    return [vector]


def long_body(tokens, line, length):
    """test_no_overflow_long_body(HTTP_REQUEST, N): a head, N bytes 'a', the head again."""
    start, end = function_body(tokens, 'test_no_overflow_long_body')
    texts = [t.text for t in tokens[start:end]]
    fmt = Reader(tokens, start + texts.index(b'sprintf') + 4).strings()
    q = next(k for k in range(len(texts) - 1)
             if texts[k] == b'?' and tokens[start + k + 1].kind == 'str')
    request_line = Reader(tokens, start + q + 1).strings()
    foo = texts.index(b'foo')
    byte = c_string(b'"' + tokens[start + foo + 2].text[1:-1] + b'"')
    if fmt.count(b'%') != 2 or b'%s' not in fmt or b'%lu' not in fmt or len(byte) != 1:
        raise SyntaxError('test.c: test_no_overflow_long_body is not of a known form')
    head = fmt.replace(b'%s', request_line).replace(b'%lu', str(length).encode())
    vector = simple(f'test_no_overflow_long_body:{line}:{length}', line, b'', 'HPE_OK',
                    source='test_no_overflow_long_body')
    vector['raw'] = None
    vector['raw_parts'] = [[latin1(head), 1], [latin1(byte), length], [latin1(head), 1]]
    return vector


def nread(tokens):
    """test_header_nread_value: bytes that must all be read without an error."""
    start, end = function_body(tokens, 'test_header_nread_value')
    texts = [t.text for t in tokens[start:end]]
    k = texts.index(b'buf', texts.index(b'buf') + 1)
    if texts[k + 1] != b'=' or b'nread' not in texts or any(t.startswith(b'HPE_') for t in texts):
        raise SyntaxError('test.c: test_header_nread_value is not of a known form')
    return simple(f'test_header_nread_value:{tokens[start].line}', tokens[start].line,
                  Reader(tokens, start + k + 2).strings(), 'HPE_OK',
                  source='test_header_nread_value')


def extract(source):
    tokens = tokenize(source)
    vectors = message_array(tokens) + simple_calls(tokens) + helpers(tokens)
    ids = [v['id'] for v in vectors]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise SyntaxError(f'test.c: vectors with the same id {sorted(duplicates)}')
    return vectors


def render(vectors):
    return json.dumps({
        'source': 'http-parser 2.9.4 (Debian source package http-parser 2.9.4-5), test.c',
        'licence': 'MIT, see LICENSE-MIT',
        'encoding': 'each raw/header/body string holds bytes as Latin-1 characters',
        'count': len(vectors),
        'vectors': vectors,
    }, indent=1, ensure_ascii=True) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('test_c', type=Path)
    parser.add_argument('-o', '--out', type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    text = render(extract(args.test_c.read_bytes()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f'{args.out}: {json.loads(text)["count"]} request vectors', file=sys.stderr)


if __name__ == '__main__':
    main()

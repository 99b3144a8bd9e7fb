"""HTTP/1.1 for a server, without I/O: a strict request parser and a response writer."""
import re
import time
from email.utils import formatdate
from http import HTTPStatus


class HTTPError(Exception):
    """A request that breaks HTTP/1.1; `status` is the response it deserves."""

    def __init__(self, status, reason):
        super().__init__(f'{status} {reason}')
        self.status = status
        self.reason = reason


class Request:
    """The head of a request: its line and its headers, and how its body is framed."""

    __slots__ = ('method', 'target', 'version', 'headers',
                 'keep_alive', 'content_length', 'chunked', 'expect_continue')

    def __init__(self, method, target, version, headers):
        self.method = method        # 'GET'
        self.target = target        # '/index.html?x=1'
        self.version = version      # '1.1' or '1.0'
        self.headers = headers      # [('host', 'example.com'), ...]: names in lower case
        # set when the head is complete:
        self.keep_alive = True      # the connection may carry another request after it
        self.content_length = 0     # None for a chunked body
        self.chunked = False
        self.expect_continue = False

    def get(self, name, default=None):
        """The value of the first header called `name` (lower case), or `default`."""
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def __repr__(self):
        return f'<Request {self.method} {self.target} HTTP/{self.version}>'


class Data:
    """A piece of a request's body, as it arrived."""

    __slots__ = ('data',)

    def __init__(self, data):
        self.data = data

    def __repr__(self):
        return f'Data({self.data!r})'


class EndOfMessage:
    """The request is complete; `trailers` are the fields after a chunked body."""

    __slots__ = ('trailers',)

    def __init__(self, trailers=None):
        self.trailers = trailers if trailers is not None else []

    def __repr__(self):
        return f'EndOfMessage({self.trailers!r})'


class _Sentinel:
    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return self._name


#: `next_event` needs more bytes before it can say anything.
NEED_DATA = _Sentinel('NEED_DATA')
#: The connection carries no more requests.
CLOSED = _Sentinel('CLOSED')


TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
REQUEST_LINE = re.compile(rb'(%s) ([!-~]+) HTTP/([0-9]\.[0-9])' % TOKEN)
FIELD_LINE = re.compile(rb'(%s):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*)' % TOKEN)
QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
CHUNK_EXTENSION = rb'[ \t]*;[ \t]*%s(?:[ \t]*=[ \t]*(?:%s|%s))?' % (TOKEN, TOKEN, QUOTED)
CHUNK_LINE = re.compile(rb'([0-9A-Fa-f]{1,16})(?:%s)*' % CHUNK_EXTENSION)
TOKEN_STR = re.compile(TOKEN.decode())
DIGITS = re.compile(r'[0-9]{1,18}')
HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[-A-Za-z0-9._~%!$&'()*+,;=]*)(?::[0-9]*)?")
TOKEN_TEXT = TOKEN.decode()
HEAD = re.compile(r'(%s) ([!-~]+) HTTP/(1\.[01])\r\n((?:%s:[\t -~\x80-\xff]*\r\n)*)\r\n'
                  % (TOKEN_TEXT, TOKEN_TEXT))
FIELD = re.compile(r'([^:]+):[ \t]*([^\r]*)\r\n')


(REQUEST_LINE_STATE, HEADERS, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILERS,
 END, DONE) = range(9)


class RequestParser:
    """Bytes in, requests out, for one connection, with no I/O of its own.

    Give it what the socket received with `feed(data)`, and `feed(b'')` at
    end of file.  Take events out with `next_event()`: for each request a
    `Request`, then zero or more `Data`, then one `EndOfMessage`; or
    `NEED_DATA` when it needs more bytes, `CLOSED` when the connection
    carries no more requests.  A request that breaks the rules raises
    `HTTPError`, on that call and on every later one.
    """

    def __init__(self, *, max_line=8192, max_head=65536, max_headers=100, max_body=None):
        self.max_line = max_line          # request line, any header or chunk-size line
        self.max_head = max_head          # all the header lines together
        self.max_headers = max_headers    # header (or trailer) lines
        self.max_body = max_body          # None: bodies of any size
        self._whole = min(max_line, max_head)   # a head this short is within every limit
        self._buf = bytearray()
        self._scan = 0                    # the first bytes of _buf hold no LF
        self._eof = False
        self._error = None
        self._state = REQUEST_LINE_STATE
        self._start_head()

    def feed(self, data):
        """Add bytes received; `b''` says the peer will send no more."""
        if not data:
            self._eof = True
        elif self._state != DONE:
            self._buf += data

    def next_event(self):
        """The next event, `NEED_DATA` or `CLOSED`; or raise `HTTPError`."""
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except HTTPError as exc:
            self._error = exc
            self._state = DONE
            raise

    def _next(self):
        state = self._state
        if state <= HEADERS:
            return self._read_head()
        if state == BODY:
            return self._read_body()
        if state == END:
            return self._end_of_message([])
        if state == DONE:
            return CLOSED
        return self._read_chunked()

    def _start_head(self):
        self._request = None
        self._fields = []             # the headers of the request being read
        self._trailers = []
        self._head_size = 0

    def _end_of_message(self, trailers):
        if self._request.keep_alive:
            self._state = REQUEST_LINE_STATE
        else:
            self._state = DONE
            self._buf.clear()             # what follows a last request is not read
        self._start_head()
        return EndOfMessage(trailers)

    def _need_data(self):
        if not self._eof:
            return NEED_DATA
        if self._state == REQUEST_LINE_STATE and not self._buf:
            self._state = DONE
            return CLOSED
        raise HTTPError(400, 'the connection closed in the middle of a request')

    def _line(self, room, status, what):
        """Take the next line, without its CRLF; None if it is not all here."""
        buf = self._buf
        end = buf.find(b'\n', self._scan)
        if end < 0:
            if len(buf) >= room:          # the line cannot end within `room` bytes
                raise HTTPError(status, f'{what} longer than {room} bytes')
            self._scan = len(buf)
            return None
        self._scan = 0
        if end + 1 > room:
            raise HTTPError(status, f'{what} longer than {room} bytes')
        if end == 0 or buf[end - 1] != 13:
            raise HTTPError(400, 'bare LF: lines must end with CRLF')
        line = bytes(buf[:end - 1])
        del buf[:end + 1]
        if b'\r' in line:
            raise HTTPError(400, 'bare CR inside a line')
        return line

    def _read_head(self):
        if not self._buf:
            return self._need_data()
        if self._state == REQUEST_LINE_STATE and self._scan == 0:
            request = self._whole_head()
            if request is not None:
                return request
        while self._state == REQUEST_LINE_STATE:
            line = self._line(self.max_line, 414, 'request line')
            if line is None:
                return self._need_data()
            if line:                          # empty lines before a request are skipped
                self._request_line(line)
                self._state = HEADERS
        while True:
            room = min(self.max_line, self.max_head - self._head_size)
            line = self._line(room, 431, 'header section')
            if line is None:
                return self._need_data()
            self._head_size += len(line) + 2
            if not line:
                return self._end_of_head()
            self._field_line(line, self._fields)

    def _request_line(self, line):
        match = REQUEST_LINE.fullmatch(line)
        if match is None:
            raise HTTPError(400, f'invalid request line {line[:100]!r}')
        method, target, version = match.groups()
        if version != b'1.1' and version != b'1.0':
            raise HTTPError(505, f'HTTP/{version.decode()} is not supported')
        self._request = Request(method.decode(), target.decode(), version.decode(),
                                self._fields)

    def _field_line(self, line, fields):
        if line[0] in b' \t':
            raise HTTPError(400, 'obsolete line folding, '
                                 'or whitespace before the first header')
        match = FIELD_LINE.fullmatch(line)
        if match is None:
            name, colon, value = line.partition(b':')
            if not colon:
                raise HTTPError(400, f'header line without a colon {line[:100]!r}')
            if name.rstrip(b' \t') != name:
                raise HTTPError(400, f'whitespace before the colon in {line[:100]!r}')
            if not re.fullmatch(TOKEN, name):
                raise HTTPError(400, f'invalid header name {name[:100]!r}')
            raise HTTPError(400, f'control character in the value of {name[:100]!r}')
        if len(fields) == self.max_headers:
            raise HTTPError(431, f'more than {self.max_headers} header lines')
        name, value = match.groups()
        fields.append((name.decode().lower(), value.rstrip(b' \t').decode('latin-1')))

    def _whole_head(self):
        """The usual case: a whole head here, well formed, within the limits.

        Otherwise None, and the line-by-line path takes the same bytes: it
        finds the same request, or the exact error.
        """
        buf = self._buf
        end = buf.find(b'\r\n\r\n') + 4
        if end < 4 or end > self._whole:
            return None
        text = buf[:end].decode('latin-1')
        match = HEAD.fullmatch(text)
        if match is None:
            return None
        fields = [(name.lower(), value.rstrip(' \t'))
                  for name, value in FIELD.findall(text, match.start(4), match.end(4))]
        if len(fields) > self.max_headers:
            return None
        del buf[:end]
        method, target, version, _ = match.groups()
        self._request = Request(method, target, version, fields)
        return self._end_of_head()

    def _end_of_head(self):
        request = self._request
        hosts, lengths, codings, connection, expect = 0, [], [], [], False
        for name, value in request.headers:
            if name == 'host':
                hosts += 1
                if not HOST.fullmatch(value):
                    raise HTTPError(400, f'invalid Host {value[:100]!r}')
            elif name == 'content-length':
                lengths += [v.strip(' \t') for v in value.split(',')]
            elif name == 'transfer-encoding':
                codings += [v.strip(' \t').lower() for v in value.split(',')]
            elif name == 'connection':
                connection += [v.strip(' \t').lower() for v in value.split(',')]
            elif name == 'expect':
                expect = value.lower() == '100-continue'
        http11 = request.version == '1.1'
        if hosts > 1 or (http11 and hosts == 0):
            raise HTTPError(400, 'an HTTP/1.1 request needs exactly one Host header')
        if codings:
            self._check_codings(codings, http11, lengths)
            request.chunked = True
            request.content_length = None
            self._body_size = 0
            self._state = CHUNK_SIZE
        elif lengths:
            request.content_length = self._remaining = self._check_length(lengths)
            self._state = BODY if self._remaining else END
        else:
            self._state = END
        if http11:
            request.keep_alive = 'close' not in connection
        else:
            request.keep_alive = 'keep-alive' in connection and 'close' not in connection
        request.expect_continue = expect and http11
        return request

    def _check_codings(self, codings, http11, lengths):
        if not http11:
            raise HTTPError(400, 'Transfer-Encoding in an HTTP/1.0 request')
        if lengths:
            raise HTTPError(400, 'both Transfer-Encoding and Content-Length')
        for coding in codings:
            if not TOKEN_STR.fullmatch(coding):
                raise HTTPError(400, f'invalid transfer coding {coding[:100]!r}')
        if codings[-1] != 'chunked':
            raise HTTPError(400, 'chunked is not the final transfer coding')
        if 'chunked' in codings[:-1]:
            raise HTTPError(400, 'chunked applied more than once')
        if len(codings) > 1:
            raise HTTPError(501, f'transfer coding {codings[0]!r} is not implemented')

    def _check_length(self, lengths):
        for value in lengths:
            if not DIGITS.fullmatch(value):
                raise HTTPError(400, f'invalid Content-Length {value[:100]!r}')
        if len(set(lengths)) > 1:
            raise HTTPError(400, f'conflicting Content-Lengths {lengths[:10]!r}')
        length = int(lengths[0])
        if self.max_body is not None and length > self.max_body:
            raise HTTPError(413, f'a body of {length} bytes, more than {self.max_body}')
        return length

    def _take(self, n):
        """Up to `n` bytes of body that are here, as a `Data` event."""
        buf = self._buf
        n = min(len(buf), n)
        data = bytes(buf[:n])
        del buf[:n]
        self._remaining -= n
        return Data(data)

    def _read_body(self):
        if not self._buf:
            return self._need_data()
        event = self._take(self._remaining)
        if not self._remaining:
            self._state = END
        return event

    def _read_chunked(self):
        while True:
            state = self._state
            if state == CHUNK_SIZE:
                line = self._line(self.max_line, 400, 'chunk-size line')
                if line is None:
                    return self._need_data()
                match = CHUNK_LINE.fullmatch(line)
                if match is None:
                    raise HTTPError(400, f'invalid chunk-size line {line[:100]!r}')
                size = int(match.group(1), 16)
                self._body_size += size
                if self.max_body is not None and self._body_size > self.max_body:
                    raise HTTPError(413, f'a chunked body over {self.max_body} bytes')
                self._remaining = size
                self._state = CHUNK_DATA if size else TRAILERS
                self._head_size = 0
            elif state == CHUNK_DATA:
                if not self._buf:
                    return self._need_data()
                event = self._take(self._remaining)
                if not self._remaining:
                    self._state = CHUNK_END
                return event
            elif state == CHUNK_END:
                buf = self._buf
                if buf[:2] != b'\r\n'[:len(buf)]:
                    raise HTTPError(400, 'chunk data not followed by CRLF')
                if len(buf) < 2:
                    return self._need_data()
                del buf[:2]
                self._state = CHUNK_SIZE
            else:                             # TRAILERS
                room = min(self.max_line, self.max_head - self._head_size)
                line = self._line(room, 431, 'trailer section')
                if line is None:
                    return self._need_data()
                self._head_size += len(line) + 2
                if not line:
                    trailers, self._trailers = self._trailers, []
                    return self._end_of_message(trailers)
                self._field_line(line, self._trailers)


_status_lines = {}
_field_lines = {}                   # (name, value) -> its line, checked and encoded
_date = [0, b'']
FIELD_NAME = re.compile(TOKEN.decode())
FIELD_VALUE = re.compile(r'[^\x00-\x08\x0a-\x1f\x7f]*')
REMEMBERED = 1000                   # header lines kept ready, at most


def _status_line(status):
    line = _status_lines.get(status)
    if line is None:
        phrase = HTTPStatus(status).phrase
        line = _status_lines[status] = f'HTTP/1.1 {status} {phrase}\r\n'.encode()
    return line


def _field_line(name, value):
    line = _field_lines.get((name, value))
    if line is None:
        if not FIELD_NAME.fullmatch(name) or not FIELD_VALUE.fullmatch(value):
            raise ValueError(f'invalid response header {name!r}: {value!r}')
        line = f'{name}: {value}\r\n'.encode('latin-1')
        if len(_field_lines) >= REMEMBERED:
            _field_lines.clear()
        _field_lines[name, value] = line
    return line


def _date_line():
    now = int(time.time())
    if now != _date[0]:
        _date[:] = [now, b'Date: %s\r\n' % formatdate(now, usegmt=True).encode()]
    return _date[1]


def format_response(status, body=b'', headers=(), *, request=None, close=False):
    """The bytes of a whole response to `request` (None: to a request that failed).

    Adds `Date`, `Content-Length` and, when the connection ends after it
    (`close`, or the request says so, or there is no request),
    `Connection: close`.  A response to HEAD keeps the length, not the body.
    """
    keep_alive = request is not None and request.keep_alive and not close
    parts = [_status_line(status), _date_line()]
    for name, value in headers:
        parts.append(_field_line(name, value))
    if status >= 200 and status != 204 and status != 304:
        parts.append(b'Content-Length: %d\r\n' % len(body))
    if not keep_alive:
        parts.append(b'Connection: close\r\n')
    elif request.version == '1.0':
        parts.append(b'Connection: keep-alive\r\n')
    parts.append(b'\r\n')
    if body and (request is None or request.method != 'HEAD'):
        parts.append(body)
    return b''.join(parts)


def error_response(error):
    """The response to a request that raised `error`: a short text, then close."""
    body = f'{error.status} {error.reason}\n'.encode('latin-1', 'replace')
    return format_response(error.status, body,
                           [('Content-Type', 'text/plain; charset=utf-8')])

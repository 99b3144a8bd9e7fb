"""RESP2, the Redis protocol: a parser that does no I/O, and the reply encoders."""

#: The parser's limits, as Redis's (see the table in chapter 17) except
#: max_bulk: Redis allows 512 MB in one argument by default.
MAX_ARGS = 1024 * 1024
MAX_BULK = 16 * 1024 * 1024
MAX_INLINE = 64 * 1024
MAX_REQUEST = 64 * 1024 * 1024

_LENGTHS = {b'$%d' % n: n for n in range(1024)}     # the familiar length lines
_COUNTS = {b'*%d' % n: n for n in range(1024)}      # and count lines


class ProtocolError(ValueError):
    """Bytes that are not RESP; the message is Redis's wording for the case.

    `commands` holds the complete commands that came before the bad frame in
    the same `Parser.feed` call: they are valid, and Redis runs them.
    """

    def __init__(self, message, commands=()):
        super().__init__(message)
        self.commands = list(commands)


def parse_integer(digits):
    """The integer `digits` spells as Redis reads numbers, or None.

    An optional ``-``, then decimal digits without a leading zero, within 64
    bits: ``b'42'`` and ``b'-7'`` are numbers, ``b'+1'``, ``b' 1'``,
    ``b'01'`` and ``b'1e3'`` are not.
    """
    if not 0 < len(digits) <= 20:
        return None
    if digits.isdigit():                    # ASCII digits only, for bytes
        if digits[0] == 0x30 and len(digits) > 1:
            return None
    elif not (digits[0] == 0x2D and digits[1:].isdigit() and digits[1] != 0x30):
        return None
    number = int(digits)
    return number if -2**63 <= number < 2**63 else None


def text(data):
    """Bytes from a client as text for a message, byte for byte (undone by `error`)."""
    return data.decode('utf-8', 'surrogateescape')


_BLANK = b' \t\r\n\x0b\x0c'             # what bytes.split() splits at
_ESCAPES = {ord('n'): 10, ord('r'): 13, ord('t'): 9, ord('b'): 8, ord('a'): 7}
_HEX = b'0123456789abcdefABCDEF'


def split_inline(line):
    """The words of an inline command, with Redis's quoting rules."""
    if b'"' not in line and b"'" not in line:
        return line.split()
    words, i, n = [], 0, len(line)
    while True:
        while i < n and line[i] in _BLANK:
            i += 1
        if i == n:
            return words
        word, quote = bytearray(), None
        while True:
            if i == n:
                if quote is not None:
                    raise ProtocolError('Protocol error: unbalanced quotes in request')
                break
            c = line[i]
            if quote is None:
                if c in _BLANK:
                    break
                if c == 0x22 or c == 0x27:          # " or ' opens a quote
                    quote = c
                else:
                    word.append(c)
            elif c == quote:                        # the closing quote ends the word
                if i + 1 < n and line[i + 1] not in _BLANK:
                    raise ProtocolError('Protocol error: unbalanced quotes in request')
                i += 1
                break
            elif c == 0x5C and i + 1 < n:           # a backslash
                after = line[i + 1]
                if quote == 0x22:
                    if (after == 0x78 and i + 3 < n and line[i + 2] in _HEX
                            and line[i + 3] in _HEX):
                        word.append(int(line[i + 2:i + 4], 16))
                        i += 4
                        continue
                    word.append(_ESCAPES.get(after, after))
                    i += 2
                    continue
                if after == 0x27:                   # \' inside single quotes
                    word.append(after)
                    i += 2
                    continue
                word.append(c)
            else:
                word.append(c)
            i += 1
        words.append(bytes(word))


class Parser:
    """Turns the bytes a client sends into commands, however they are chunked.

    `feed(data)` returns the commands that `data` completes, each a list of
    bytes such as ``[b'SET', b'k', b'v']``, and keeps the incomplete rest for
    the next call.  Bytes that are not RESP raise `ProtocolError`; the parser
    is then spent, and every later `feed` raises the same error.
    """

    def __init__(self, *, max_bulk=MAX_BULK, max_request=MAX_REQUEST,
                 max_inline=MAX_INLINE, max_args=MAX_ARGS):
        for name, limit in (('max_bulk', max_bulk), ('max_request', max_request),
                            ('max_inline', max_inline), ('max_args', max_args)):
            if not isinstance(limit, int) or limit < 1:
                raise ValueError(f'{name} must be a positive integer, not {limit!r}')
        self.max_bulk = max_bulk
        self.max_request = max_request
        self.max_inline = max_inline
        self.max_args = max_args
        self._lengths = _LENGTHS if max_bulk >= len(_LENGTHS) else {
            line: n for line, n in _LENGTHS.items() if n <= max_bulk}
        self._counts = _COUNTS if max_args >= len(_COUNTS) else {
            line: n for line, n in _COUNTS.items() if n <= max_args}
        self._rest = bytearray()    # received, not yet used
        self._args = []             # the unfinished command's arguments so far
        self._missing = 0           # how many it still lacks; 0: between commands
        self._bulk = -1             # the length of the argument being read; -1: unknown
        self._size = 0              # the bytes its arguments announced so far
        self._error = None          # the message that spent the parser

    @property
    def buffered(self):
        """Bytes held for the unfinished command: the parser's memory."""
        return len(self._rest) + sum(map(len, self._args))

    def feed(self, data):
        """Parse `data` after what came before; return the commands completed."""
        if self._error is not None:
            raise ProtocolError(self._error)
        if self._rest:
            self._rest += data
            buf = self._rest
        else:
            buf = data                      # the common case: no copy at all
        commands = []
        try:
            used = self._parse(buf, commands)
        except ProtocolError as error:
            self._error = str(error)
            self._rest, self._args = bytearray(), []
            error.commands = commands
            raise
        if buf is self._rest:
            del buf[:used]
        elif used < len(buf):
            self._rest += memoryview(buf)[used:]
        return commands

    def _parse(self, buf, commands):
        """Use what `buf` holds; return how many bytes were used."""
        pos, end = 0, len(buf)
        while pos < end:
            if not self._missing:                       # a command starts here
                if buf[pos] != 0x2A:                    # not '*': an inline command
                    newline = buf.find(b'\n', pos, pos + self.max_inline + 1)
                    if newline < 0:
                        if end - pos > self.max_inline:
                            raise ProtocolError('Protocol error: too big inline request')
                        return pos
                    line = bytes(buf[pos:newline])
                    pos = newline + 1
                    words = split_inline(line[:-1] if line.endswith(b'\r') else line)
                    if words:                           # an empty line is no command
                        commands.append(words)
                    continue
                crlf = buf.find(b'\r\n', pos, pos + 8)         # a familiar count?
                count = self._counts.get(bytes(buf[pos:crlf])) if crlf >= 0 else None
                if count is None:                       # no: the careful way
                    crlf = self._line_end(buf, pos, end, 'mbulk')
                    if crlf < 0:
                        return pos
                    count = parse_integer(buf[pos + 1:crlf])
                    if count is None or count > self.max_args:
                        raise ProtocolError('Protocol error: invalid multibulk length')
                pos = crlf + 2
                self._missing = max(count, 0)           # *0 and *-1: no command
                continue
            if self._bulk < 0:                          # the short cut first (below)
                pos = self._whole_arguments(buf, pos, end)
                if not self._missing:
                    commands.append(self._args)
                    self._args, self._size = [], 0
                    continue
                if pos == end:
                    return pos
            if self._bulk < 0:                          # an argument's length line
                if buf[pos] != 0x24:
                    got = text(buf[pos:pos + 1])
                    raise ProtocolError(f"Protocol error: expected '$', got '{got}'")
                crlf = self._line_end(buf, pos, end, 'bulk')
                if crlf < 0:
                    return pos
                size = parse_integer(buf[pos + 1:crlf])
                if size is None or not 0 <= size <= self.max_bulk:
                    raise ProtocolError('Protocol error: invalid bulk length')
                self._size += size
                if self._size > self.max_request:
                    raise ProtocolError('Protocol error: too big request')
                self._bulk = size
                pos = crlf + 2
            stop = pos + self._bulk                     # the argument's bytes
            if stop + 2 > end:
                return pos
            if buf[stop:stop + 2] != b'\r\n':
                raise ProtocolError("Protocol error: expected '\\r\\n' after bulk string")
            self._args.append(bytes(buf[pos:stop]))
            pos = stop + 2
            self._bulk = -1
            self._missing -= 1
            if not self._missing:
                commands.append(self._args)
                self._args, self._size = [], 0
        return pos

    def _whole_arguments(self, buf, pos, end):
        """Read complete arguments with a familiar length line; stop at any other."""
        args, lengths, missing = self._args, self._lengths, self._missing
        while missing:
            crlf = buf.find(b'\r\n', pos, pos + 8)
            if crlf < 0:
                break
            size = lengths.get(bytes(buf[pos:crlf]))
            start = crlf + 2
            if (size is None or start + size + 2 > end
                    or self._size + size > self.max_request):
                break
            stop = start + size
            if buf[stop] != 0x0D or buf[stop + 1] != 0x0A:
                break
            args.append(bytes(buf[start:stop]))
            self._size += size
            pos = stop + 2
            missing -= 1
        self._missing = missing
        return pos

    def _line_end(self, buf, pos, end, what):
        """Where the \\r\\n ending the line at `pos` is; -1 if it has not come yet."""
        crlf = buf.find(b'\r\n', pos, pos + self.max_inline + 2)
        if crlf < 0 and end - pos >= self.max_inline + 2:
            raise ProtocolError(f'Protocol error: too big {what} count string')
        return crlf


OK = b'+OK\r\n'
NULL = b'$-1\r\n'           # the null bulk string: "no such key"


def simple(status):
    """A simple string reply, such as ``+PONG``; `status` is one line of text."""
    if '\r' in status or '\n' in status:
        raise ValueError(f'a simple string is one line: {status!r}')
    return b'+%s\r\n' % status.encode()


def error(message):
    """An error reply; `message` starts with its kind, as in ``ERR syntax error``.

    As Redis does, any ``\\r`` or ``\\n`` in it becomes a space.
    """
    data = message.encode('utf-8', 'surrogateescape')
    return b'-%s\r\n' % data.replace(b'\r', b' ').replace(b'\n', b' ')


def integer(number):
    """An integer reply."""
    return b':%d\r\n' % number


def bulk(data):
    """A bulk string reply holding the bytes `data`."""
    return b'$%d\r\n%s\r\n' % (len(data), data)


def array(replies):
    """An array reply; `replies` are the encoded replies of its elements."""
    return b'*%d\r\n' % len(replies) + b''.join(replies)

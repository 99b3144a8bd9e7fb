"""tale.resp: the RESP2 parser gives one verdict however the bytes are chunked,
raises nothing but ProtocolError on garbage, and holds bounded memory."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tale import resp
from tale.resp import Parser, ProtocolError, parse_integer, split_inline

FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

# Small limits, so that random input reaches them.
SMALL = dict(max_bulk=40, max_request=120, max_inline=32, max_args=6)


def encode_command(args):
    return b'*%d\r\n' % len(args) + b''.join(b'$%d\r\n%s\r\n' % (len(a), a) for a in args)


def verdict(chunks, **limits):
    """Every command the parser gives for `chunks`, and its error message (or None)."""
    parser = Parser(**limits)
    bound = parser.max_request + parser.max_inline + 2
    commands = []
    for chunk in chunks:
        try:
            commands += parser.feed(chunk)
        except ProtocolError as error:
            return commands + error.commands, str(error)
        assert parser.buffered <= bound
    return commands, None


def one_by_one(data):
    return [data[i:i + 1] for i in range(len(data))]


def split_at(data, cuts):
    cuts = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]


# -- well-formed input -------------------------------------------------------

args_strategy = st.lists(st.binary(max_size=12), min_size=1, max_size=5)


@FUZZ
@given(st.lists(args_strategy, max_size=6), st.lists(st.integers(0, 10**6), max_size=8))
def test_commands_come_back_whole_however_the_bytes_are_chunked(commands, cuts):
    data = b''.join(encode_command(c) for c in commands)
    expected = (commands, None)
    assert verdict([data]) == expected
    assert verdict(one_by_one(data)) == expected
    assert verdict(split_at(data, cuts)) == expected


@FUZZ
@given(st.lists(st.lists(st.binary(min_size=1, max_size=8).filter(
    lambda w: not any(c in w for c in b' \t\r\n\x0b\x0c"\'')), min_size=1, max_size=4),
    max_size=5))
def test_inline_commands_come_back_whole_one_byte_at_a_time(commands):
    commands = [words for words in commands if not words[0].startswith(b'*')]  # an array
    data = b''.join(b' '.join(words) + b'\r\n' for words in commands)
    assert verdict(one_by_one(data)) == (commands, None)


def test_a_pipeline_of_mixed_frames():
    data = b'PING\r\n*2\r\n$3\r\nGET\r\n$0\r\n\r\n\n\r\n*0\r\n*-1\r\nECHO  a\tb\n'
    assert verdict([data]) == ([[b'PING'], [b'GET', b''], [b'ECHO', b'a', b'b']], None)


def test_bulk_strings_may_hold_any_bytes():
    arg = bytes(range(256)) + b'\r\n*1\r\n'
    assert Parser().feed(encode_command([b'SET', b'k', arg])) == [[b'SET', b'k', arg]]


def test_the_parser_copies_nothing_it_does_not_keep():
    parser = Parser()
    assert parser.feed(b'*1\r\n$4\r\nPI') == [] and parser.buffered == len(b'PI')
    assert parser.feed(b'NG\r\n') == [[b'PING']] and parser.buffered == 0


# -- errors ------------------------------------------------------------------

ERRORS = [
    (b'*x\r\n', 'Protocol error: invalid multibulk length'),
    (b'*01\r\n', 'Protocol error: invalid multibulk length'),
    (b'*+1\r\n', 'Protocol error: invalid multibulk length'),
    (b'*1048577\r\n', 'Protocol error: invalid multibulk length'),
    (b'*99999999999999999999\r\n', 'Protocol error: invalid multibulk length'),
    (b'*1\r\nGET\r\n', "Protocol error: expected '$', got 'G'"),
    (b'*2\r\n$3\r\nGET\r\n:1\r\n', "Protocol error: expected '$', got ':'"),
    (b'*1\r\n$x\r\n', 'Protocol error: invalid bulk length'),
    (b'*1\r\n$-1\r\n', 'Protocol error: invalid bulk length'),
    (b'*1\r\n$16777217\r\n', 'Protocol error: invalid bulk length'),
    (b'*1\r\n$3\r\nGETxx', "Protocol error: expected '\\r\\n' after bulk string"),
    (b'ECHO "open\r\n', 'Protocol error: unbalanced quotes in request'),
    (b'ECHO "a"b\r\n', 'Protocol error: unbalanced quotes in request'),
    (b"ECHO 'a\r\n", 'Protocol error: unbalanced quotes in request'),
    (b'x' * (64 * 1024 + 1), 'Protocol error: too big inline request'),
    (b'*' + b'1' * (64 * 1024 + 1), 'Protocol error: too big mbulk count string'),
    (b'*1\r\n$' + b'1' * (64 * 1024 + 1), 'Protocol error: too big bulk count string'),
]


@pytest.mark.parametrize('data, message', ERRORS)
def test_each_error_has_redis_wording_at_once_and_byte_by_byte(data, message):
    assert verdict([data]) == ([], message)
    assert verdict(one_by_one(data)) == ([], message)


def test_commands_before_the_error_are_kept_and_the_parser_is_spent():
    parser = Parser()
    with pytest.raises(ProtocolError) as caught:
        parser.feed(b'PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$-5\r\nPING\r\n')
    assert caught.value.commands == [[b'PING'], [b'PING']]
    assert parser.buffered == 0
    with pytest.raises(ProtocolError, match='invalid bulk length') as again:
        parser.feed(b'PING\r\n')
    assert again.value.commands == []


def test_the_limits_are_exact():
    limits = dict(max_bulk=10, max_request=25, max_inline=16, max_args=3)
    assert verdict([encode_command([b'x' * 10])], **limits) == ([[b'x' * 10]], None)
    assert verdict([encode_command([b'x' * 11])], **limits)[1] == 'Protocol error: invalid bulk length'
    assert verdict([encode_command([b'a'] * 3)], **limits) == ([[b'a'] * 3], None)
    assert verdict([encode_command([b'a'] * 4)], **limits)[1] == 'Protocol error: invalid multibulk length'
    assert verdict([encode_command([b'x' * 10, b'y' * 10, b'z' * 5])], **limits)[0] == [
        [b'x' * 10, b'y' * 10, b'z' * 5]]
    assert verdict([encode_command([b'x' * 10, b'y' * 10, b'z' * 6])], **limits)[1] == \
        'Protocol error: too big request'
    two = encode_command([b'x' * 10, b'y' * 10]) * 2      # the limit is per command
    assert verdict([two], **limits) == ([[b'x' * 10, b'y' * 10]] * 2, None)
    line = b'E' * 15 + b'\r\n'                      # 16 bytes before the \n: allowed
    assert verdict([line], **limits) == ([[b'E' * 15]], None)
    assert verdict([b'E' + line], **limits)[1] == 'Protocol error: too big inline request'
    assert verdict(one_by_one(b'E' + line), **limits)[1] == 'Protocol error: too big inline request'


def test_bad_limits_are_refused():
    for bad in (0, -1, 1.5, None):
        with pytest.raises(ValueError, match='max_bulk'):
            Parser(max_bulk=bad)


# -- garbage and mutations ---------------------------------------------------

@FUZZ
@given(st.binary(max_size=200), st.lists(st.integers(0, 10**6), max_size=6))
def test_garbage_gets_one_verdict_and_only_protocol_errors(data, cuts):
    whole = verdict([data], **SMALL)
    assert verdict(one_by_one(data), **SMALL) == whole
    assert verdict(split_at(data, cuts), **SMALL) == whole


ALPHABET = st.sampled_from([b'*', b'$', b'\r', b'\n', b'\r\n', b'1', b'3', b'0', b'-',
                            b'GET', b'"', b"'", b'\\', b' ', b'x', b'99', b'PING'])


@FUZZ
@given(st.lists(ALPHABET, max_size=60), st.lists(st.integers(0, 10**6), max_size=6))
def test_protocol_shaped_garbage_gets_one_verdict(pieces, cuts):
    data = b''.join(pieces)
    whole = verdict([data], **SMALL)
    assert verdict(one_by_one(data), **SMALL) == whole
    assert verdict(split_at(data, cuts), **SMALL) == whole


@st.composite
def mutated_frames(draw):
    commands = draw(st.lists(st.lists(st.binary(max_size=10), min_size=1, max_size=4),
                             min_size=1, max_size=4))
    data = bytearray(b''.join(encode_command(c) for c in commands))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(['flip', 'insert', 'delete', 'truncate']))
        byte = draw(st.integers(0, 255))
        if how == 'flip' and where < len(data):
            data[where] = byte
        elif how == 'insert':
            data.insert(where, byte)
        elif how == 'delete' and where < len(data):
            del data[where]
        elif how == 'truncate':
            del data[where:]
    return bytes(data)


@FUZZ
@given(mutated_frames(), st.lists(st.integers(0, 10**6), max_size=6))
def test_mutated_frames_get_one_verdict(data, cuts):
    whole = verdict([data], **SMALL)
    assert verdict(one_by_one(data), **SMALL) == whole
    assert verdict(split_at(data, cuts), **SMALL) == whole
    whole = verdict([data])
    assert verdict(one_by_one(data)) == whole


# -- pieces ------------------------------------------------------------------

def test_numbers_are_read_as_redis_reads_them():
    good = {b'0': 0, b'7': 7, b'-7': -7, b'9223372036854775807': 2**63 - 1,
            b'-9223372036854775808': -2**63}
    for digits, number in good.items():
        assert parse_integer(digits) == number
        assert parse_integer(bytearray(digits)) == number
    for digits in (b'', b'-', b'-0', b'01', b'+1', b' 1', b'1 ', b'1e3', b'1_0', b'0x1',
                   b'\xd9\xa1', b'9223372036854775808', b'-9223372036854775809', b'1' * 5000):
        assert parse_integer(digits) is None, digits


def test_inline_quoting_follows_redis():
    assert split_inline(b'') == []
    assert split_inline(b'  a  b\t') == [b'a', b'b']
    assert split_inline(b'SET k "a b"') == [b'SET', b'k', b'a b']
    assert split_inline(b'"\\x41\\x4g\\n\\q\\\\"') == [b'Ax4g\nq\\']
    assert split_inline(b"'a\\'b\\n'") == [b"a'b\\n"]
    assert split_inline(b'ab"cd"') == [b'abcd']
    assert split_inline(b'"" \'\'') == [b'', b'']
    for bad in (b'"a', b"'a", b'"a"b', b'"a\\"', b"'a'b"):
        with pytest.raises(ProtocolError, match='unbalanced quotes'):
            split_inline(bad)


def test_the_encoders():
    assert resp.simple('PONG') == b'+PONG\r\n'
    with pytest.raises(ValueError):
        resp.simple('two\r\nlines')
    assert resp.error('ERR a\nb') == b'-ERR a b\r\n'
    assert resp.error('ERR ' + resp.text(b'\xff')) == b'-ERR \xff\r\n'
    assert resp.integer(-(2**63)) == b':-9223372036854775808\r\n'
    assert resp.bulk(b'') == b'$0\r\n\r\n'
    assert resp.bulk(b'a\r\nb') == b'$4\r\na\r\nb\r\n'
    assert resp.array([]) == b'*0\r\n'
    assert resp.array([resp.NULL, resp.OK]) == b'*2\r\n$-1\r\n+OK\r\n'

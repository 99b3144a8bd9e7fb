"""The Redis engine of chapter 17: commands, Redis's errors, expiry on a virtual clock."""
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tale.examples.redis_engine import Engine, compile_glob, glob_match
from tale.testing import VirtualClock

FUZZ = settings(max_examples=300, deadline=None, database=None)


@pytest.fixture
def clock():
    return VirtualClock(start=1000)


@pytest.fixture
def run(clock):
    engine = Engine(clock=clock.now)
    session = {}

    def run(*words):
        return engine.execute([w if isinstance(w, bytes) else w.encode() for w in words],
                              session)
    run.engine = engine
    return run


def test_ping_echo_and_names_in_any_case(run):
    assert run('PING') == b'+PONG\r\n'
    assert run('ping', 'hi') == b'$2\r\nhi\r\n'
    assert run('PiNg', 'a', 'b') == b"-ERR wrong number of arguments for 'ping' command\r\n"
    assert run('ECHO', '') == b'$0\r\n\r\n'
    assert run('echo') == b"-ERR wrong number of arguments for 'echo' command\r\n"


def test_unknown_commands_are_reported_as_redis_does(run):
    assert run('foo') == b"-ERR unknown command 'foo', with args beginning with: \r\n"
    assert run('FOO', 'a', 'b c') == \
        b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b c' \r\n"
    long = run('x', 'a' * 100, 'b' * 100, 'c')
    assert long == (b"-ERR unknown command 'x', with args beginning with: '"
                    + b'a' * 100 + b"' '" + b'b' * 25 + b"' \r\n")
    assert run('x\r\ny', '\n') == b"-ERR unknown command 'x  y', with args beginning with: ' ' \r\n"
    assert run('\xff') == "-ERR unknown command '\xff', with args beginning with: \r\n".encode()


def test_get_set_del_exists(run):
    assert run('GET', 'k') == b'$-1\r\n'
    assert run('SET', 'k', 'v') == b'+OK\r\n'
    assert run('GET', 'k') == b'$1\r\nv\r\n'
    assert run('EXISTS', 'k', 'k', 'nope') == b':2\r\n'
    assert run('DEL', 'k', 'k', 'nope') == b':1\r\n'
    assert run('EXISTS', 'k') == b':0\r\n'
    assert run('GET', 'k', 'x') == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert run('SET', 'k') == b"-ERR wrong number of arguments for 'set' command\r\n"


@pytest.mark.parametrize('options, reply', [
    (['NX', 'XX'], b'-ERR syntax error\r\n'),
    (['XX', 'NX'], b'-ERR syntax error\r\n'),
    (['EX', '1', 'PX', '1'], b'-ERR syntax error\r\n'),
    (['PX', '1', 'EX', '1'], b'-ERR syntax error\r\n'),
    (['EX'], b'-ERR syntax error\r\n'),
    (['FOO'], b'-ERR syntax error\r\n'),
    (['EX', 'x', 'NX', 'XX'], b'-ERR syntax error\r\n'),     # options are read first
    (['EX', 'ten'], b'-ERR value is not an integer or out of range\r\n'),
    (['EX', '1.5'], b'-ERR value is not an integer or out of range\r\n'),
    (['EX', '0'], b"-ERR invalid expire time in 'set' command\r\n"),
    (['PX', '-5'], b"-ERR invalid expire time in 'set' command\r\n"),
    (['EX', str(2**63 // 1000 + 1)], b"-ERR invalid expire time in 'set' command\r\n"),
    (['NX', 'NX'], b'$-1\r\n'),              # k exists: NX stops it
    (['XX', 'ex', '5', 'EX', '7'], b'+OK\r\n'),
])
def test_set_options_and_their_errors(run, options, reply):
    run('SET', 'k', 'old')
    assert run('SET', 'k', 'new', *options) == reply
    assert run('GET', 'k') == (b'$3\r\nnew\r\n' if reply == b'+OK\r\n' else b'$3\r\nold\r\n')


def test_set_nx_xx_on_a_missing_key(run):
    assert run('SET', 'k', 'v', 'XX') == b'$-1\r\n'
    assert run('SET', 'k', 'v', 'NX') == b'+OK\r\n'
    assert run('SET', 'k', 'w', 'NX') == b'$-1\r\n'
    assert run('GET', 'k') == b'$1\r\nv\r\n'


def test_expiry_on_the_virtual_clock(run, clock):
    run('SET', 'k', 'v', 'PX', '100')
    assert run('PTTL', 'k') == b':100\r\n'
    clock.advance(0.099)
    assert run('GET', 'k') == b'$1\r\nv\r\n' and run('PTTL', 'k') == b':1\r\n'
    clock.advance(0.001)
    assert run('GET', 'k') == b'$-1\r\n' and run('TTL', 'k') == b':-2\r\n'
    run('SET', 'k', 'v', 'EX', '10')
    assert run('TTL', 'k') == b':10\r\n'
    run('SET', 'k', 'v')                                # a plain SET drops the deadline
    assert run('TTL', 'k') == b':-1\r\n'
    clock.advance(3600)
    assert run('GET', 'k') == b'$1\r\nv\r\n'


def test_incr_keeps_the_deadline_and_mset_drops_it(run, clock):
    run('SET', 'n', '5', 'EX', '10')
    assert run('INCR', 'n') == b':6\r\n' and run('TTL', 'n') == b':10\r\n'
    run('MSET', 'n', '1', 'm', '2')
    assert run('TTL', 'n') == b':-1\r\n'


def test_counters(run):
    assert run('INCR', 'c') == b':1\r\n'
    assert run('INCRBY', 'c', '10') == b':11\r\n'
    assert run('DECR', 'c') == b':10\r\n'
    assert run('DECRBY', 'c', '-5') == b':15\r\n'
    assert run('GET', 'c') == b'$2\r\n15\r\n'
    not_int = b'-ERR value is not an integer or out of range\r\n'
    assert run('INCRBY', 'c', 'x') == not_int
    assert run('DECRBY', 'c', '1.0') == not_int
    run('SET', 's', ' 1')
    assert run('INCR', 's') == not_int
    run('SET', 'big', str(2**63 - 1))
    assert run('INCR', 'big') == b'-ERR increment or decrement would overflow\r\n'
    assert run('DECRBY', 'c', str(-2**63)) == b'-ERR decrement would overflow\r\n'
    assert run('GET', 'big') == b'$19\r\n9223372036854775807\r\n'


def test_mget_mset(run):
    assert run('MSET', 'a', '1', 'b') == b"-ERR wrong number of arguments for 'mset' command\r\n"
    assert run('MSET', 'a', '1', 'b', '2') == b'+OK\r\n'
    assert run('MGET', 'a', 'x', 'b') == b'*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n'


def test_expire_and_ttl(run, clock):
    assert run('EXPIRE', 'k', '10') == b':0\r\n'
    assert run('TTL', 'k') == b':-2\r\n'
    run('SET', 'k', 'v')
    assert run('TTL', 'k') == b':-1\r\n'
    assert run('EXPIRE', 'k', 'x') == b'-ERR value is not an integer or out of range\r\n'
    assert run('EXPIRE', 'k', '10', 'FOO') == b'-ERR Unsupported option FOO\r\n'
    assert run('EXPIRE', 'k', '10', 'NX', 'GT') == \
        b'-ERR NX and XX, GT or LT options at the same time are not compatible\r\n'
    assert run('EXPIRE', 'k', '10', 'GT', 'LT') == \
        b'-ERR GT and LT options at the same time are not compatible\r\n'
    assert run('EXPIRE', 'k', '10', 'XX') == b':0\r\n'      # no deadline yet
    assert run('EXPIRE', 'k', '10', 'GT') == b':0\r\n'      # none counts as infinite
    assert run('EXPIRE', 'k', '10') == b':1\r\n'
    assert run('EXPIRE', 'k', '20', 'LT') == b':0\r\n'
    assert run('EXPIRE', 'k', '5', 'LT') == b':1\r\n'
    clock.advance(2.4)
    assert run('TTL', 'k') == b':3\r\n' and run('PTTL', 'k') == b':2600\r\n'
    assert run('EXPIRE', 'k', '-1') == b':1\r\n'
    assert run('EXISTS', 'k') == b':0\r\n'
    run('SET', 'k', 'v')
    assert run('EXPIRE', 'k', str(2**63)) == b'-ERR value is not an integer or out of range\r\n'
    assert run('EXPIRE', 'k', str(2**62)) == b"-ERR invalid expire time in 'expire' command\r\n"


def test_purge_removes_keys_nobody_reads_and_the_heap_stays_small(run, clock):
    engine = run.engine
    for i in range(100):
        run('SET', f'k{i}', 'v', 'PX', str(10 + i))
    clock.advance(0.050)
    assert engine.purge() == 41                 # deadlines 10..50 ms have come
    assert len(engine._values) == 59
    for _ in range(1000):                       # the same key, a new deadline each time
        run('EXPIRE', 'k99', '1000')
    assert len(engine._heap) <= 2 * len(engine._deadlines) + 64
    clock.advance(1)
    assert engine.purge() == 58 and len(engine._values) == 1


def test_keys_lists_live_keys_that_match(run, clock):
    run('MSET', 'user:1', 'a', 'user:2', 'b', 'other', 'c')
    run('SET', 'user:3', 'd', 'PX', '1')
    clock.advance(0.002)
    keys = run('KEYS', 'user:*')
    assert keys.startswith(b'*2\r\n') and b'user:1' in keys and b'user:2' in keys
    assert run('KEYS', '*') .startswith(b'*3\r\n')
    assert run('KEYS', 'nothing') == b'*0\r\n'


def test_flushall(run):
    run('SET', 'k', 'v', 'EX', '5')
    assert run('FLUSHALL', 'NOW') == b'-ERR syntax error\r\n'
    assert run('FLUSHALL', 'async') == b'+OK\r\n'
    assert run('KEYS', '*') == b'*0\r\n' and run.engine.purge() == 0


def test_what_the_tools_ask(run):
    assert run('CONFIG', 'GET', 'save') == b'*2\r\n$4\r\nsave\r\n$0\r\n\r\n'
    assert run('config', 'get', 'APPENDONLY') == b'*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n'
    assert run('CONFIG', 'GET', '*').startswith(b'*4\r\n')
    assert run('CONFIG', 'GET', 'maxmemory') == b'*0\r\n'
    assert run('CONFIG', 'GET') == b"-ERR wrong number of arguments for 'config|get' command\r\n"
    assert run('CONFIG', 'SET', 'a', 'b') == b"-ERR unknown subcommand 'SET'. Try CONFIG HELP.\r\n"
    assert run('COMMAND', 'DOCS') == b'*0\r\n' and run('COMMAND') == b'*0\r\n'
    assert run('COMMAND', 'COUNT') == b':22\r\n'
    assert run('CLIENT', 'GETNAME') == b'$-1\r\n'
    assert run('CLIENT', 'SETNAME', 'bench') == b'+OK\r\n'
    assert run('CLIENT', 'GETNAME') == b'$5\r\nbench\r\n'
    assert run('CLIENT', 'SETNAME', 'a b') == \
        b'-ERR Client names cannot contain spaces, newlines or special characters.\r\n'
    assert run('CLIENT', 'SETINFO', 'LIB-NAME', 'redis-py') == b'+OK\r\n'
    assert run('CLIENT', 'SETINFO', 'x') == \
        b"-ERR wrong number of arguments for 'client|setinfo' command\r\n"
    assert run('CLIENT', 'KILL') == b"-ERR unknown subcommand 'KILL'. Try CLIENT HELP.\r\n"
    assert run('SELECT', '0') == b'+OK\r\n'
    assert run('SELECT', '1') == b'-ERR DB index is out of range\r\n'
    assert run('SELECT', 'x') == b'-ERR value is not an integer or out of range\r\n'
    assert b'redis_version:' in run('INFO') and run('INFO', 'server').startswith(b'$')


def test_the_client_name_belongs_to_the_session():
    engine = Engine()
    engine.execute([b'CLIENT', b'SETNAME', b'one'], {})
    assert engine.execute([b'CLIENT', b'GETNAME'], {}) == b'$-1\r\n'


# -- the glob matcher against an oracle that does not know it --------------------

# Each piece: (its text in a Redis pattern, the same as a Python regex).
PIECES = [(b'*', b'.*'), (b'?', b'.'), (b'a', b'a'), (b'b', b'b'), (b':', b':'),
          (b'[ab]', b'[ab]'), (b'[^a]', b'[^a]'), (b'[a-b]', b'[a-b]'), (b'[b-a]', b'[a-b]'),
          (b'\\*', b'\\*'), (b'\\?', b'\\?'), (b'[\\]]', b'[\\]]'), (b'[]', b'(?!)'),
          (b'[^]', b'.')]


LETTERS = [b'a', b'b', b':', b'*', b'?', b']', b'\n']


@st.composite
def pattern_and_string(draw):
    """A pattern, its regex, and a string built to match it, perhaps then spoiled."""
    pieces = draw(st.lists(st.sampled_from(PIECES), max_size=8))
    string = b''
    for _, regex in pieces:
        choices = [c for c in LETTERS if re.fullmatch(regex, c, re.DOTALL)]
        if regex == b'.*':
            string += b''.join(draw(st.lists(st.sampled_from(LETTERS), max_size=3)))
        elif choices:
            string += draw(st.sampled_from(choices))
    if draw(st.booleans()) and string:
        where = draw(st.integers(0, len(string) - 1))
        string = string[:where] + draw(st.sampled_from(LETTERS + [b''])) + string[where + 1:]
    pattern = b''.join(p for p, _ in pieces)
    return pattern, re.compile(b''.join(r for _, r in pieces), re.DOTALL), string


@FUZZ
@given(pattern_and_string())
def test_glob_match_agrees_with_a_regex(case):
    pattern, regex, string = case
    assert glob_match(pattern, string) == bool(regex.fullmatch(string)), (pattern, string)


def test_glob_corner_cases():
    assert glob_match(b'', b'') and not glob_match(b'', b'a')
    assert glob_match(b'**', b'') and glob_match(b'a**', b'a')
    assert glob_match(b'[abc', b'b') and not glob_match(b'[abc', b'd')   # unclosed: to the end
    assert glob_match(b'\\', b'\\') and glob_match(b'a\\', b'a\\')      # a lone backslash
    assert compile_glob(b'***') == ['*']
    assert glob_match(b'*ab', b'aab') and glob_match(b'*a?c', b'aaabc')
    assert glob_match(b'[z-a]', b'q') and not glob_match(b'[^z-a]', b'q')


def test_glob_takes_polynomial_time_on_a_hostile_pattern():
    import time
    start = time.perf_counter()
    assert not glob_match(b'*a' * 20 + b'b', b'a' * 2000)
    assert time.perf_counter() - start < 2


# -- the engine against a model ---------------------------------------------------

OPS = st.one_of(
    st.tuples(st.just('SET'), st.sampled_from('abc'), st.sampled_from(['1', '2', 'x']),
              st.sampled_from([None, 'EX', 'PX']), st.integers(1, 3000)),
    st.tuples(st.just('GET'), st.sampled_from('abc')),
    st.tuples(st.just('DEL'), st.sampled_from('abc')),
    st.tuples(st.just('INCR'), st.sampled_from('abc')),
    st.tuples(st.just('EXPIRE'), st.sampled_from('abc'), st.integers(-1, 3)),
    st.tuples(st.just('WAIT'), st.integers(0, 4000)),
    st.tuples(st.just('PURGE'),),
)


@FUZZ
@given(st.lists(OPS, max_size=40))
def test_the_engine_agrees_with_a_dict_and_a_clock(ops):
    clock = VirtualClock()
    engine = Engine(clock=clock.now)
    now_ms = 0
    model = {}                                      # key -> (value, deadline in ms or None)

    def live(key):
        if key in model and model[key][1] is not None and model[key][1] <= now_ms:
            del model[key]
        return model.get(key)

    for op in ops:
        name = op[0]
        if name == 'WAIT':
            now_ms += op[1]
            clock.advance(op[1] / 1000)
            continue
        if name == 'PURGE':
            engine.purge()
            continue
        key = op[1]
        if name == 'SET':
            _, _, value, unit, amount = op
            args = [b'SET', key.encode(), value.encode()]
            deadline = None
            if unit:
                args += [unit.encode(), b'%d' % amount]
                deadline = now_ms + (amount * 1000 if unit == 'EX' else amount)
            assert engine.execute(args) == b'+OK\r\n'
            model[key] = (value, deadline)
        elif name == 'GET':
            entry = live(key)
            expected = b'$-1\r\n' if entry is None else b'$1\r\n%s\r\n' % entry[0].encode()
            assert engine.execute([b'GET', key.encode()]) == expected
        elif name == 'DEL':
            expected = b':1\r\n' if live(key) else b':0\r\n'
            model.pop(key, None)
            assert engine.execute([b'DEL', key.encode()]) == expected
        elif name == 'INCR':
            entry = live(key)
            reply = engine.execute([b'INCR', key.encode()])
            if entry is not None and not entry[0].isdigit():
                assert reply == b'-ERR value is not an integer or out of range\r\n'
            else:
                number = int(entry[0]) + 1 if entry else 1
                model[key] = (str(number), entry[1] if entry else None)
                assert reply == b':%d\r\n' % number
        elif name == 'EXPIRE':
            seconds = op[2]
            entry = live(key)
            reply = engine.execute([b'EXPIRE', key.encode(), b'%d' % seconds])
            assert reply == (b':1\r\n' if entry else b':0\r\n')
            if entry and seconds <= 0:
                del model[key]
            elif entry:
                model[key] = (entry[0], now_ms + seconds * 1000)
        for k in 'abc':                             # TTL agrees after every step
            entry = live(k)
            if entry is None:
                expected = -2
            elif entry[1] is None:
                expected = -1
            else:
                expected = entry[1] - now_ms
            assert engine.execute([b'PTTL', k.encode()]) == b':%d\r\n' % expected

"""A small Redis: a keyspace with expiry and its commands, without I/O."""
import heapq
import time

from tale.resp import NULL, OK, array, bulk, error, integer, parse_integer, text

LLONG_MAX = 2**63 - 1
NOT_AN_INTEGER = error('ERR value is not an integer or out of range')
SYNTAX_ERROR = error('ERR syntax error')


class Engine:
    """One keyspace and the commands on it; `execute` runs one command.

    Values and keys are bytes.  Time is `clock()`, in seconds: by default
    `time.monotonic`, in the server `tale.clock`, in tests a virtual clock.
    """

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._values = {}           # key -> value
        self._deadlines = {}        # key -> when it expires, for keys that do
        self._heap = []             # (deadline, key), some of them stale
        self._table = {}
        for name, (method, arity) in COMMANDS.items():
            entry = (getattr(self, method), arity, name.decode())
            self._table[name] = self._table[name.upper()] = entry

    def execute(self, args, session=None):
        """Run the command `args` (a list of bytes); return its encoded reply.

        `session` is a dict that lives as long as the client's connection
        (it holds the name CLIENT SETNAME gives).
        """
        entry = self._table.get(args[0]) or self._table.get(args[0].lower())
        if entry is None:
            return unknown_command(args)
        run, arity, name = entry
        if len(args) != arity and (arity > 0 or len(args) < -arity):
            return wrong_arity(name)
        return run(args, session)

    def _live(self, key):
        """The value of `key`, or None if it is missing or expired (and then gone)."""
        value = self._values.get(key)
        if value is not None and key in self._deadlines:
            if self._deadlines[key] <= self.clock():
                self._delete(key)
                return None
        return value

    def _delete(self, key):
        """Remove `key`; True if it was there."""
        self._deadlines.pop(key, None)
        return self._values.pop(key, None) is not None

    def _expire_at(self, key, deadline):
        self._deadlines[key] = deadline
        heapq.heappush(self._heap, (deadline, key))
        if len(self._heap) > 2 * len(self._deadlines) + 64:     # mostly stale
            self._heap = [(when, k) for k, when in self._deadlines.items()]
            heapq.heapify(self._heap)

    def purge(self):
        """Remove every expired key, even one nobody asks for; return how many."""
        now, heap, removed = self.clock(), self._heap, 0
        while heap and heap[0][0] <= now:
            deadline, key = heapq.heappop(heap)
            if self._deadlines.get(key) == deadline:    # not replaced since
                self._delete(key)
                removed += 1
        return removed

    def get(self, args, session):
        value = self._live(args[1])
        return NULL if value is None else bulk(value)

    def set(self, args, session):
        key, value = args[1], args[2]
        if len(args) == 3:                              # the common case
            self._values[key] = value
            self._deadlines.pop(key, None)
            return OK
        condition = unit = amount = None
        i = 3
        while i < len(args):
            option = args[i].upper()
            if option in (b'NX', b'XX') and condition in (None, option):
                condition = option
            elif (option in (b'EX', b'PX') and unit in (None, option)
                  and i + 1 < len(args)):
                unit, amount = option, args[i + 1]
                i += 1
            else:
                return SYNTAX_ERROR
            i += 1
        deadline = None
        if unit is not None:
            number = parse_integer(amount)
            if number is None:
                return NOT_AN_INTEGER
            if number <= 0 or (unit == b'EX' and number > LLONG_MAX // 1000):
                return error("ERR invalid expire time in 'set' command")
            deadline = self.clock() + (number if unit == b'EX' else number / 1000)
        exists = self._live(key) is not None
        if (condition == b'NX' and exists) or (condition == b'XX' and not exists):
            return NULL
        self._values[key] = value
        if deadline is None:
            self._deadlines.pop(key, None)
        else:
            self._expire_at(key, deadline)
        return OK

    def mget(self, args, session):
        values = [self._live(key) for key in args[1:]]
        return array([NULL if v is None else bulk(v) for v in values])

    def mset(self, args, session):
        if len(args) % 2 == 0:
            return wrong_arity('mset')
        for i in range(1, len(args), 2):
            self._values[args[i]] = args[i + 1]
            self._deadlines.pop(args[i], None)
        return OK

    def incr(self, args, session):
        return self._add(args[1], 1)

    def decr(self, args, session):
        return self._add(args[1], -1)

    def incrby(self, args, session):
        amount = parse_integer(args[2])
        return NOT_AN_INTEGER if amount is None else self._add(args[1], amount)

    def decrby(self, args, session):
        amount = parse_integer(args[2])
        if amount is None:
            return NOT_AN_INTEGER
        if amount == -2**63:
            return error('ERR decrement would overflow')
        return self._add(args[1], -amount)

    def _add(self, key, amount):
        value = self._live(key)
        current = 0 if value is None else parse_integer(value)
        if current is None:
            return NOT_AN_INTEGER
        result = current + amount
        if not -2**63 <= result <= LLONG_MAX:
            return error('ERR increment or decrement would overflow')
        self._values[key] = b'%d' % result              # the deadline stays
        return integer(result)

    def delete(self, args, session):
        return integer(sum(self._live(key) is not None and self._delete(key)
                           for key in args[1:]))

    def exists(self, args, session):
        return integer(sum(self._live(key) is not None for key in args[1:]))

    def expire(self, args, session):
        key, seconds = args[1], parse_integer(args[2])
        if seconds is None:
            return NOT_AN_INTEGER
        if abs(seconds) > LLONG_MAX // 1000:
            return error("ERR invalid expire time in 'expire' command")
        flags = set()
        for option in args[3:]:
            option = option.upper()
            if option not in (b'NX', b'XX', b'GT', b'LT'):
                return error(f'ERR Unsupported option {text(option)}')
            flags.add(option)
        if b'NX' in flags and len(flags) > 1:
            return error('ERR NX and XX, GT or LT options at the same time '
                         'are not compatible')
        if {b'GT', b'LT'} <= flags:
            return error('ERR GT and LT options at the same time are not compatible')
        if self._live(key) is None:
            return integer(0)
        deadline = self.clock() + seconds
        current = self._deadlines.get(key)              # None: the key never expires
        if ((b'NX' in flags and current is not None)
                or (b'XX' in flags and current is None)
                or (b'GT' in flags and (current is None or deadline <= current))
                or (b'LT' in flags and current is not None and deadline >= current)):
            return integer(0)
        if seconds <= 0:
            self._delete(key)
        else:
            self._expire_at(key, deadline)
        return integer(1)

    def ttl(self, args, session):
        milliseconds = self._ttl(args[1])
        return integer(milliseconds if milliseconds < 0 else (milliseconds + 500) // 1000)

    def pttl(self, args, session):
        return integer(self._ttl(args[1]))

    def _ttl(self, key):
        if self._live(key) is None:
            return -2
        deadline = self._deadlines.get(key)
        if deadline is None:
            return -1
        return max(0, round((deadline - self.clock()) * 1000))

    def keys(self, args, session):
        tokens = compile_glob(args[1])
        return array([bulk(key) for key in list(self._values)
                      if glob_match(args[1], key, tokens)
                      and self._live(key) is not None])

    def flushall(self, args, session):
        if any(option.upper() not in (b'ASYNC', b'SYNC') for option in args[1:]):
            return SYNTAX_ERROR
        self._values.clear()
        self._deadlines.clear()
        self._heap.clear()
        return OK

    def ping(self, args, session):
        if len(args) > 2:
            return wrong_arity('ping')
        return b'+PONG\r\n' if len(args) == 1 else bulk(args[1])

    def echo(self, args, session):
        return bulk(args[1])

    def select(self, args, session):
        index = parse_integer(args[1])
        if index is None:
            return NOT_AN_INTEGER
        return OK if index == 0 else error('ERR DB index is out of range')

    def config(self, args, session):
        if args[1].lower() != b'get':
            return unknown_subcommand(args)
        if len(args) < 3:
            return wrong_arity('config|get')
        pairs = []
        for name, value in SETTINGS.items():
            if any(glob_match(pattern.lower(), name) for pattern in args[2:]):
                pairs += [bulk(name), bulk(value)]
        return array(pairs)

    def command(self, args, session):
        sub = args[1].lower() if len(args) > 1 else b'docs'
        if sub == b'count':
            return integer(len(COMMANDS))
        if sub == b'docs':
            return array([])
        return unknown_subcommand(args)

    def client(self, args, session):
        sub, session = args[1].lower(), {} if session is None else session
        if sub == b'setname' and len(args) == 3:
            if any(not 0x21 <= c <= 0x7E for c in args[2]):
                return error('ERR Client names cannot contain spaces, '
                             'newlines or special characters.')
            session['name'] = args[2]
            return OK
        if sub == b'getname' and len(args) == 2:
            name = session.get('name')
            return NULL if name is None else bulk(name)
        if sub == b'setinfo' and len(args) == 4:
            return OK
        if sub in (b'setname', b'getname', b'setinfo'):
            return wrong_arity('client|' + sub.decode())
        return unknown_subcommand(args)

    def info(self, args, session):
        lines = ['# Server', 'redis_version:7.0.0', 'redis_mode:standalone',
                 'server_name:tale', '', '# Keyspace',
                 f'db0:keys={len(self._values)},expires={len(self._deadlines)}', '']
        return bulk('\r\n'.join(lines).encode())


def unknown_command(args):
    """Redis's reply to a command it does not know."""
    shown = ''
    for arg in args[1:]:
        if len(shown) >= 128:
            break
        shown += "'%s' " % text(arg[:128 - len(shown)])
    return error(f"ERR unknown command '{text(args[0][:128])}', "
                 f"with args beginning with: {shown}")


def wrong_arity(name):
    """Redis's reply to a command with too many or too few arguments."""
    return error(f"ERR wrong number of arguments for '{name}' command")


def unknown_subcommand(args):
    """Redis's reply to CONFIG, COMMAND or CLIENT with a subcommand it lacks."""
    return error(f"ERR unknown subcommand '{text(args[1][:128])}'. "
                 f"Try {text(args[0]).upper()} HELP.")


ANY_BYTE = frozenset(range(256))


def compile_glob(pattern):
    """The tokens of a glob pattern: '*', or the set of bytes one position accepts."""
    tokens, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 0x2A:                                   # *
            if not tokens or tokens[-1] != '*':
                tokens.append('*')
        elif c == 0x3F:                                 # ?
            tokens.append(ANY_BYTE)
        elif c == 0x5B:                                 # [ a set, to ] or the end
            i += 1
            negate = i < n and pattern[i] == 0x5E       # ^
            i += negate
            accepted = set()
            while i < n and pattern[i] != 0x5D:
                if pattern[i] == 0x5C and i + 1 < n:    # \ escapes
                    i += 1
                    accepted.add(pattern[i])
                elif i + 2 < n and pattern[i + 1] == 0x2D:  # a range, either way round
                    low, high = sorted((pattern[i], pattern[i + 2]))
                    accepted.update(range(low, high + 1))
                    i += 2
                else:
                    accepted.add(pattern[i])
                i += 1
            tokens.append(ANY_BYTE - accepted if negate else frozenset(accepted))
        else:
            if c == 0x5C and i + 1 < n:                 # \ takes the next literally
                i += 1
                c = pattern[i]
            tokens.append(frozenset((c,)))
        i += 1
    return tokens


def glob_match(pattern, string, tokens=None):
    """True if the bytes `string` match the glob `pattern`, as Redis matches keys."""
    tokens = compile_glob(pattern) if tokens is None else tokens
    t = s = 0
    star, resume = -1, 0            # the last '*' seen, and where its match would end
    while s < len(string):
        if t < len(tokens) and tokens[t] == '*':
            star, resume = t, s
            t += 1
        elif t < len(tokens) and string[s] in tokens[t]:
            t += 1
            s += 1
        elif star >= 0:             # let the last '*' take one byte more
            resume += 1
            t, s = star + 1, resume
        else:
            return False
    while t < len(tokens) and tokens[t] == '*':
        t += 1
    return t == len(tokens)


SETTINGS = {b'save': b'', b'appendonly': b'no'}

COMMANDS = {
    b'ping': ('ping', -1), b'echo': ('echo', 2),
    b'get': ('get', 2), b'set': ('set', -3),
    b'mget': ('mget', -2), b'mset': ('mset', -3),
    b'incr': ('incr', 2), b'decr': ('decr', 2),
    b'incrby': ('incrby', 3), b'decrby': ('decrby', 3),
    b'del': ('delete', -2), b'exists': ('exists', -2),
    b'expire': ('expire', -3), b'ttl': ('ttl', 2), b'pttl': ('pttl', 2),
    b'keys': ('keys', 2), b'flushall': ('flushall', -1),
    b'select': ('select', 2), b'config': ('config', -2),
    b'command': ('command', -1), b'client': ('client', -2),
    b'info': ('info', -1),
}

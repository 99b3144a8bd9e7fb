"""A small HTTP/1.1 server: tale's streams, and the parser of tale.http.

    python -m tale.examples.http_server --host 127.0.0.1 --port 8080 --root DIR

GET / says hello, GET /static/NAME sends the file NAME under --root,
POST /echo sends back the request's body.  Prints ``listening on HOST:PORT``
once it accepts connections, and stops on Ctrl-C (SIGINT) with status 0.
"""
import argparse
import errno
import mimetypes
import os
import socket
from urllib.parse import unquote, urlsplit

import tale
from tale.examples.command_line import announce
from tale.http import (CLOSED, NEED_DATA, Data, HTTPError, Request, RequestParser,
                       error_response, format_response)

TEXT = [('Content-Type', 'text/plain; charset=utf-8')]
HELLO = b'Hello from tale!\n'
CONTINUE = b'HTTP/1.1 100 Continue\r\n\r\n'
SEND_PIECE = 1 << 16        # bytes that must leave within send_timeout


class HTTPServer:
    """The handler for `tale.serve_tcp`: HTTP/1.1 on each connection it is given."""

    def __init__(self, root=None, header_timeout=10.0, max_body=1 << 20,
                 send_timeout=10.0):
        self.root = os.path.realpath(root) if root is not None else None
        self.header_timeout = header_timeout
        self.max_body = max_body
        self.send_timeout = send_timeout
        self._connections = 0     # connections being served
        self._deadlines = {}      # stream -> (deadline, how to cut it off): its wait now
        self._late = set()        # the streams cut off for missing a deadline
        self._watchdog = None     # the task enforcing deadlines, while connections last

    async def __call__(self, stream):
        parser = RequestParser(max_body=self.max_body)
        out = []                          # responses written, not yet sent
        request = None
        self._connections += 1
        if self._watchdog is None:
            self._watchdog = await tale.spawn(self._watch, daemon=True)
        try:
            while True:
                try:
                    event = parser.next_event()
                except HTTPError as exc:
                    out.append(error_response(exc))
                    break
                if event is NEED_DATA:
                    if out:
                        await self._send(stream, b''.join(out))
                        out.clear()
                    if request is not None:       # a body: each piece in time
                        self._deadline(stream, self.header_timeout, socket.SHUT_RD)
                    elif stream not in self._deadlines:     # a head: all of it in time
                        self._deadline(stream, self.header_timeout, socket.SHUT_RD)
                    data = await stream.receive_some()
                    if stream in self._late:
                        out.append(error_response(HTTPError(408, 'too slow')))
                        break
                    parser.feed(data)
                elif event is CLOSED:
                    break
                elif type(event) is Request:
                    request, body = event, []
                    self._deadlines.pop(stream, None)
                    if request.expect_continue:
                        out.append(CONTINUE)
                elif type(event) is Data:
                    body.append(event.data)
                else:                     # EndOfMessage
                    try:
                        out.append(self.respond(request, b''.join(body)))
                    except HTTPError as exc:
                        out.append(error_response(exc))
                        break
                    request = None
            if out:
                await self._send(stream, b''.join(out))
            await self._linger(stream)
        except ConnectionError:           # the client went away, or was cut off
            pass
        finally:
            self._connections -= 1
            self._deadlines.pop(stream, None)
            self._late.discard(stream)

    def _deadline(self, stream, seconds, how):
        """Give `stream`'s next wait `seconds`; after that, `shutdown(how)` it."""
        self._deadlines[stream] = (tale.clock() + seconds, how)

    async def _send(self, stream, data):
        """Send `data`; each SEND_PIECE bytes of it must leave within send_timeout."""
        for start in range(0, len(data), SEND_PIECE):
            self._deadline(stream, self.send_timeout, socket.SHUT_RDWR)
            await stream.send_all(data[start:start + SEND_PIECE])
        self._deadlines.pop(stream, None)

    async def _watch(self):
        """Cut off every connection that misses its deadline: one task for all of them."""
        deadlines, late = self._deadlines, self._late
        most = min(self.header_timeout, self.send_timeout)   # no new deadline is sooner
        least = max(most / 10, 0.001)   # a round looks at every connection: not too often
        try:
            while self._connections:
                now = tale.clock()
                for stream, (deadline, how) in list(deadlines.items()):
                    if deadline <= now:
                        del deadlines[stream]
                        late.add(stream)
                        try:
                            stream.socket.shutdown(how)     # its wait ends at once
                        except OSError:                     # it is gone already
                            pass
                soonest = min([deadline for deadline, _ in deadlines.values()],
                              default=now + most)
                await tale.sleep(min(max(soonest - now, least), most))
        finally:
            self._watchdog = None

    async def _linger(self, stream):
        """Close our side first; drop what the client still sends, a second at most."""
        try:
            await stream.send_eof()
            async with tale.move_on_after(1.0):
                while await stream.receive_some():
                    pass
        except OSError:                   # already reset or gone
            pass

    def respond(self, request, body):
        """The response to a complete request, as bytes."""
        method, target = request.method, request.target
        if not target.startswith('/'):
            if not target.startswith(('http://', 'https://')):
                raise HTTPError(400, f'no such target here: {target[:100]!r}')
            target = urlsplit(target).path or '/'      # the absolute form, from a proxy
        path = target.partition('?')[0]
        if path == '/':
            if method in ('GET', 'HEAD'):
                return format_response(200, HELLO, TEXT, request=request)
            return self.not_allowed(request, 'GET, HEAD')
        if path == '/echo':
            if method == 'POST':
                return format_response(200, body,
                                       [('Content-Type', 'application/octet-stream')],
                                       request=request)
            return self.not_allowed(request, 'POST')
        if path.startswith('/static/') and self.root is not None:
            if method in ('GET', 'HEAD'):
                return self.static(request, path[len('/static/'):])
            return self.not_allowed(request, 'GET, HEAD')
        return format_response(404, b'not found\n', TEXT, request=request)

    def not_allowed(self, request, allow):
        return format_response(405, b'method not allowed\n', TEXT + [('Allow', allow)],
                               request=request)

    def static(self, request, name):
        """The file `name` under the root, or 404 for anything outside it."""
        try:
            segments = unquote(name, errors='strict').split('/')
        except UnicodeDecodeError:
            segments = ['..']
        if any(s in ('', '.', '..') or '\0' in s or '\\' in s for s in segments):
            return format_response(404, b'not found\n', TEXT, request=request)
        path = os.path.realpath(os.path.join(self.root, *segments))
        if not path.startswith(self.root + os.sep) or not os.path.isfile(path):
            return format_response(404, b'not found\n', TEXT, request=request)
        try:
            with open(path, 'rb') as file:
                data = file.read()
        except OSError as exc:          # no descriptor or memory left for it: not now
            if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOMEM):
                raise
            raise HTTPError(503, 'the server is out of resources') from None
        kind = mimetypes.guess_type(path)[0] or 'application/octet-stream'
        return format_response(200, data, [('Content-Type', kind)], request=request)


def main(argv=None):
    """Serve HTTP on the address of the command line, until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on')
    parser.add_argument('--port', type=int, default=8080, help='0: any free port')
    parser.add_argument('--root', help='the directory served under /static/')
    parser.add_argument('--header-timeout', type=float, default=10.0, metavar='SECONDS',
                        help='time a client has to send a request head (default 10)')
    parser.add_argument('--send-timeout', type=float, default=10.0, metavar='SECONDS',
                        help='time a client has to take each 64 KiB of a response '
                             '(default 10)')
    parser.add_argument('--max-body', type=int, default=1 << 20, metavar='BYTES',
                        help='the largest request body accepted (default 1 MiB)')
    args = parser.parse_args(argv)
    if args.root is not None and not os.path.isdir(args.root):
        parser.error(f'--root {args.root!r} is not a directory')
    server = HTTPServer(args.root, args.header_timeout, args.max_body, args.send_timeout)
    try:
        tale.run(tale.serve_tcp(server, args.host, args.port, on_ready=announce))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    raise SystemExit(main())

"""Chapter 9, exercise 2: read exactly n bytes from a non-blocking socket."""
import tale


async def recv_exactly(sock, n):
    """Return exactly `n` bytes from `sock`; `EOFError` if it closes first."""
    chunks, missing = [], n
    while missing:
        try:
            chunk = sock.recv(missing)
        except BlockingIOError:
            await tale.wait_readable(sock)
            continue
        if not chunk:
            raise EOFError(f'the peer closed after {n - missing} of {n} bytes')
        chunks.append(chunk)
        missing -= len(chunk)
    return b''.join(chunks)

"""Chapter 6, exercise 1: lines out of a stream of bytes."""


async def recv_line(sock, buffer):
    """The next line from the Socket `sock` (with its b"\\n"), or b"" at
    the end of the stream.

    `buffer` is a bytearray that carries leftovers between calls.
    """
    while True:
        end = buffer.find(b"\n")
        if end >= 0:
            line = bytes(buffer[:end + 1])
            del buffer[:end + 1]
            return line
        data = await sock.recv(4096)
        if not data:                    # end of stream: whatever is left
            line = bytes(buffer)
            buffer.clear()
            return line
        buffer += data

"""Chapter 15, exercise 2: a line, or None if it takes too long."""
import tale


async def readline_within(stream, seconds):
    """The next line of `stream`, or None if none is whole within `seconds`.

    Nothing is lost on a timeout: a part of a line stays buffered, and the
    next `readline` returns the whole line.
    """
    async with tale.move_on_after(seconds):
        return await stream.readline()
    return None

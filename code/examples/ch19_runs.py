"""Chapter 19: the programs whose runs the chapter draws as timelines."""
import socket

import tale


async def turns(name, n):
    for _ in range(n):
        await tale.sleep(0)


async def round_robin():
    """Three tasks that take turns with sleep(0)."""
    tasks = [await tale.spawn(turns, name, 3) for name in 'abc']
    for task, name in zip(tasks, 'abc'):
        task.name = name
    for task in tasks:
        await task.join()


async def nap(seconds):
    await tale.sleep(seconds)
    await tale.sleep(seconds)


async def timers():
    """Three sleepers: 0.1 s twice, 0.25 s twice, 0.1 s twice."""
    tasks = [await tale.spawn(nap, s) for s in (0.1, 0.25, 0.1)]
    for task, name in zip(tasks, ('short', 'long', 'short2')):
        task.name = name
    for task in tasks:
        await task.join()


async def slow(seconds):
    await tale.sleep(seconds)


async def crash(seconds):
    await tale.sleep(seconds)
    raise ValueError('a child failed')


async def group_cancelled():
    """A task group whose child fails: the group cancels the other two."""
    try:
        async with tale.TaskGroup() as group:
            for name, corofunc, seconds in (('slow', slow, 1), ('crash', crash, 0.1),
                                            ('slower', slow, 2)):
                task = await group.spawn(corofunc, seconds)
                task.name = name
            await tale.sleep(5)
    except* ValueError:
        pass


async def handle(conn):
    with conn:
        while data := await recv(conn):
            await tale.wait_writable(conn)
            conn.send(data)


async def recv(sock):
    while True:
        try:
            return sock.recv(1024)
        except BlockingIOError:
            await tale.wait_readable(sock)


async def serve(listener, clients):
    async with tale.TaskGroup() as group:
        for number in range(1, clients + 1):
            await tale.wait_readable(listener)
            conn, _ = listener.accept()
            conn.setblocking(False)
            task = await group.spawn(handle, conn)
            task.name = f'handle {number}'


async def client(address, message):
    with socket.socket() as sock:
        sock.setblocking(False)
        sock.connect_ex(address)
        await tale.wait_writable(sock)
        sock.send(message)
        reply = await recv(sock)
        assert reply == message, reply


async def echo_server():
    """An echo server on 127.0.0.1 and three clients, each sending one line."""
    with socket.create_server(('127.0.0.1', 0)) as listener:
        listener.setblocking(False)
        address = listener.getsockname()
        async with tale.TaskGroup() as group:
            server = await group.spawn(serve, listener, 3)
            server.name = 'server'
            for name in 'abc':
                task = await group.spawn(client, address, f'hello from {name}\n'.encode())
                task.name = f'client {name}'

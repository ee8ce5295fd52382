"""The gateway's listening socket hands out connections with Nagle off (issue 10: every answer
of ``serve`` took ~40 ms, headers and body waiting for the client's delayed ACK)."""

from __future__ import annotations

import asyncio
import socket

from ait_connectors.cli._gateway import bind


async def test_connections_of_the_bound_socket_have_nodelay() -> None:
    sock = bind("127.0.0.1", 0)
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def accepted(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = writer.get_extra_info("socket")
        seen.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=sock)
    try:
        _reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        assert await asyncio.wait_for(seen, 10) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()

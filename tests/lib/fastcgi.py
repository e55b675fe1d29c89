"""A minimal FastCGI client (the responder role), to talk to pyexecd directly
as nginx does, or as a hostile peer would: tests of the listener's peer
allow-list, read timeout and body cap."""
import socket
import struct

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def record(kind, content=b"", request_id=1):
    return struct.pack(">BBHHBx", 1, kind, request_id, len(content), 0) + content


def params(pairs):
    out = b""
    for k, v in pairs.items():
        k, v = k.encode(), v.encode()
        for n in (len(k), len(v)):
            out += struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)
        out += k + v
    return out


def head(method="POST", path="/run", length=0):
    """BEGIN_REQUEST and the params of one request, as nginx sends them."""
    env = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "REQUEST_URI": path,
           "CONTENT_LENGTH": str(length), "CONTENT_TYPE": "application/json"}
    return (record(BEGIN_REQUEST, struct.pack(">HB5x", 1, 0)) + record(PARAMS, params(env)) + record(PARAMS))


def stdin_records(body):
    out = b""
    for i in range(0, len(body), 65535):
        out += record(STDIN, body[i:i + 65535])
    return out + record(STDIN)


def read_response(sock):
    """(status, body) of the answer, or None when the peer closed without one."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    out, at = b"", 0
    while at + 8 <= len(data):
        _, kind, _, length, padding = struct.unpack(">BBHHB", data[at:at + 7])
        if kind == STDOUT:
            out += data[at + 8:at + 8 + length]
        at += 8 + length + padding
    if not out:
        return None
    headers, _, body = out.partition(b"\r\n\r\n")
    status = int(headers.split(b"Status: ", 1)[1][:3]) if b"Status: " in headers else 200
    return status, body

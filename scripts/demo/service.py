"""Demo service: attaches a channel (binds a Unix socket at a path), answers one client."""
import os
import socket
import sys

path = sys.argv[1]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(1)
print(f"service: listening on {path}", flush=True)
conn, _ = s.accept()
conn.sendall(b"hello from svc_t\n")
conn.close()

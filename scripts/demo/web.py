"""Demo web server: binds a privileged TCP port (needs net_bind_service as root)."""
import socket
import sys

port = int(sys.argv[1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", port))
except OSError as e:
    print(f"web: cannot bind port {port}: {e.strerror}")
    sys.exit(1)
s.listen(1)
print(f"web: listening on port {port}")

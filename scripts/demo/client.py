"""Demo client: connects to the service's channel."""
import socket
import sys

c = socket.socket(socket.AF_UNIX)
c.connect(sys.argv[1])
print("client: got", c.recv(100).decode().strip())

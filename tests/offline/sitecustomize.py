"""Makes every Python process started with this folder on PYTHONPATH unable to reach the network: a
connection to anything but this machine (loopback, Unix sockets) fails at once. ``.ci/run`` uses it to
run the course as a lab without internet would, kernels included (they inherit PYTHONPATH)."""

import ipaddress
import socket

_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def _is_local(address) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:  # a host name: resolve it the way connect would
        return all(
            ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in socket.getaddrinfo(host, None)
        )


def _blocked(address):
    return OSError(101, f"network blocked for the offline check (tried {address!r}): nothing may be downloaded")


def connect(self, address):
    if not _is_local(address):
        raise _blocked(address)
    return _connect(self, address)


def connect_ex(self, address):
    if not _is_local(address):
        raise _blocked(address)
    return _connect_ex(self, address)


socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
socket.OFFLINE_CHECK = True  # so a test can see that this module was loaded

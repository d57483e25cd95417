#!/usr/bin/python3
"""cut_proxy.py: a TCP proxy on 127.0.0.1 that resets a connection once the client has sent
more than N bytes on it, to test uploads cut in the middle.

Usage: cut_proxy.py --port PORT --target HOST:PORT --cut-after BYTES [--log FILE]

Small requests (under BYTES) pass through untouched, so a client can still create and
delete things through the proxy; only a big upload is cut. The cut is a TCP reset
(SO_LINGER 0) towards the client and a plain close towards the server.
"""
import argparse
import socket
import struct
import sys
import threading
import time


def log(args, msg):
    if args.log:
        with open(args.log, "a") as f:
            f.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))


def reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def handle(args, client, host, port):
    try:
        server = socket.create_connection((host, port), timeout=30)
    except OSError as e:
        log(args, "cannot reach %s:%d: %s" % (host, port, e))
        reset(client)
        return
    server.settimeout(None)
    done = threading.Event()
    cut = threading.Event()

    def upstream():
        sent = 0
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    server.shutdown(socket.SHUT_WR)
                    return
                if sent + len(data) > args.cut_after:
                    data = data[: args.cut_after - sent]
                    server.sendall(data)
                    log(args, "cut after %d bytes" % args.cut_after)
                    cut.set()
                    return
                server.sendall(data)
                sent += len(data)
        except OSError:
            return
        finally:
            if cut.is_set():
                reset(client)
                server.close()
                done.set()

    def downstream():
        try:
            while not cut.is_set():
                data = server.recv(65536)
                if not data:
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            if not cut.is_set():
                try:
                    client.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            done.set()

    up = threading.Thread(target=upstream, daemon=True)
    down = threading.Thread(target=downstream, daemon=True)
    up.start()
    down.start()
    up.join()
    down.join()
    for s in (client, server):
        try:
            s.close()
        except OSError:
            pass


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--cut-after", type=int, required=True)
    p.add_argument("--log")
    args = p.parse_args()
    host, _, port = args.target.rpartition(":")
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", args.port))
    lsock.listen(16)
    log(args, "listening on %d for %s" % (args.port, args.target))
    while True:
        client, _ = lsock.accept()
        threading.Thread(target=handle, args=(args, client, host, int(port)), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)

#!/usr/bin/python3
"""fault_proxy.py: a TCP proxy on 127.0.0.1 that breaks an upload in the middle: it cuts the
connection after N bytes, or holds it there while a test looks, or plays a server that is down.

Usage: fault_proxy.py --port PORT --target HOST:PORT
                      [--cut-after BYTES] [--hold-after BYTES --control DIR] [--log FILE]

--cut-after BYTES  a connection whose client sends more than BYTES is cut there: a TCP reset
                   (SO_LINGER 0) towards the client and a plain close towards the server
--hold-after BYTES with --control DIR, files in DIR steer it:
  DIR/hold   while it exists, a connection whose client has sent more than BYTES stops
             forwarding there (the log says "holding") until the file is removed
  DIR/down   while it exists, new connections are reset at once, and held ones are reset

Small requests (under BYTES) pass through untouched, so a client can authenticate, create
and delete through the proxy; only a big upload is cut or held.
"""
import argparse
import os
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


def control(args, name):
    return bool(args.control) and os.path.exists(os.path.join(args.control, name))


def handle(args, client, host, port):
    if control(args, "down"):
        log(args, "down: connection refused")
        reset(client)
        return
    try:
        server = socket.create_connection((host, port), timeout=30)
    except OSError as e:
        log(args, "cannot reach %s:%d: %s" % (host, port, e))
        reset(client)
        return
    server.settimeout(None)
    dead = threading.Event()
    cut = threading.Event()

    def upstream():
        sent = 0
        held = False
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    server.shutdown(socket.SHUT_WR)
                    return
                if args.cut_after is not None and sent + len(data) > args.cut_after:
                    server.sendall(data[: args.cut_after - sent])
                    log(args, "cut after %d bytes" % args.cut_after)
                    cut.set()
                    dead.set()
                    return
                if not held and args.hold_after is not None and sent + len(data) > args.hold_after \
                        and control(args, "hold"):
                    held = True
                    log(args, "holding after %d bytes" % sent)
                    deadline = time.time() + 600  # a test that forgot us must not hang
                    while control(args, "hold") and not control(args, "down") and time.time() < deadline:
                        time.sleep(0.05)
                    if control(args, "down"):
                        log(args, "down: held connection reset")
                        dead.set()
                        return
                    log(args, "released")
                server.sendall(data)
                sent += len(data)
        except OSError:
            return
        finally:
            if dead.is_set():
                reset(client)
                if cut.is_set():
                    server.close()
                else:
                    reset(server)

    def downstream():
        try:
            while not dead.is_set():
                data = server.recv(65536)
                if not data:
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            if not dead.is_set():
                try:
                    client.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

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
    p.add_argument("--cut-after", type=int)
    p.add_argument("--hold-after", type=int)
    p.add_argument("--control")
    p.add_argument("--log")
    args = p.parse_args()
    if (args.hold_after is None) != (args.control is None):
        p.error("--hold-after and --control go together")
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

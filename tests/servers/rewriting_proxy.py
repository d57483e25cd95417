"""rewriting_proxy.py: the plumbing of the small HTTP proxies the OpenStack tests put in front
of Keystone or Glance to change what passes (ks_proxy.py, glance_proxy.py).

A proxy is a Rewriter: before() sees each request before it is forwarded, after() may change
each answer's body. serve() runs it on 127.0.0.1, on --port or on a free port written to
--port-file. Request bodies are streamed through (a chunked one is read whole and sent with
its length). A server that answers before it has read the whole body (keystonemiddleware's
401 to an upload, say) has its answer passed back at once, and the rest of the body is read
and dropped, as Glance's own server does: the client sees the answer, not a reset.
"""
import http.client
import http.server
import os
import select
import time

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
PIECE = 1 << 20


def add_arguments(parser):
    """The options every proxy takes: where it listens, what it forwards to, its log."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", type=int, help="listen on this port")
    where.add_argument("--port-file", help="listen on a free port, written to this file")
    parser.add_argument("--target", required=True, help="HOST:PORT of the server")
    parser.add_argument("--log", help="what the proxy did, a line each")


class Rewriter:
    """Passes everything through unchanged; a proxy overrides before() and after()."""

    def __init__(self, args):
        self.args = args
        host, _, port = args.target.rpartition(":")
        self.host, self.port = host, int(port)

    def log(self, msg):
        if self.args.log:
            with open(self.args.log, "a") as f:
                f.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))

    def before(self, request):
        """Called with the request handler (command, path, headers) before forwarding."""

    def after(self, request, status, body):
        """Returns the body to answer with, given the server's status and body."""
        return body


def read_chunked(rfile):
    parts = []
    while True:
        size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(parts)
        parts.append(rfile.read(size))
        rfile.readline()


def drain(rfile, left):
    try:
        while left > 0:
            piece = rfile.read(min(left, PIECE))
            if not piece:
                return
            left -= len(piece)
    except OSError:
        pass


def make_handler(rewriter):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self):
            rewriter.before(self)
            chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
            body = read_chunked(self.rfile) if chunked else b""
            left = len(body) if chunked else int(self.headers.get("Content-Length") or 0)
            conn = http.client.HTTPConnection(rewriter.host, rewriter.port, timeout=120)
            conn.putrequest(self.command, self.path)
            for k, v in self.headers.items():
                if k.lower() not in HOP:
                    conn.putheader(k, v)
            if left or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(left))
            conn.endheaders()
            if chunked:
                conn.send(body)
                left = 0
            answered = False
            while left and not answered:
                piece = self.rfile.read(min(left, PIECE))
                if not piece:
                    break
                left -= len(piece)
                try:
                    conn.send(piece)
                except OSError:  # the server stopped reading: its answer is waiting
                    answered = True
                else:
                    answered = bool(select.select([conn.sock], [], [], 0)[0])
            resp = conn.getresponse()
            data = rewriter.after(self, resp.status, resp.read())
            conn.close()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            if left:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            self.wfile.flush()
            drain(self.rfile, left)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = forward

        def log_message(self, fmt, *a):
            pass

    return Handler


def serve(rewriter):
    """Serves until killed; returns only on Ctrl-C."""
    args = rewriter.args
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port or 0),
                                             make_handler(rewriter))
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(args.port_file + ".tmp", args.port_file)
    rewriter.log("listening on %d for %s" % (port, args.target))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass

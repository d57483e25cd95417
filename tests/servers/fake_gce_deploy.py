"""fake_gce_deploy.py: the deploy surface of Compute Engine for fake_gce.py (docs/cloud-apis.md
section 9): instance templates, health checks, firewall rules, autoscalers (zonal and regional),
managed instance groups (fake_gce_mig.py) and instances (fake_gce_vm.py), with their Operations.

fake_gce.py hands every Compute Engine request to route() first. Control endpoints:
  GET  /_deploy_state   templates, health checks, firewalls, groups (with their instances and
                        the history of counts), autoscalers, instances, calls per method
  POST /_fault          (fake_gce.py) also takes these keys:
       "call:METHOD:COLLECTION" {"status": 503|429, "count": N[, "after": true]}: answer N calls
           of that method on that collection (instanceTemplates, healthChecks, firewalls,
           instanceGroupManagers, autoscalers, instances, operations) with the status; with
           "after" the call is carried out first (the answer is lost on the way back);
       "quota" {"count": N}: the next N instance creations fail with QUOTA_EXCEEDED;
       "unhealthy_templates" {"names": [PREFIX...]}: instances of templates whose names
           start so never pass the health check (autohealing recreates them);
       "stuck_templates" {"names": [PREFIX...]}: their instances stay VERIFYING;
       "serial_not_ready" {"count": N}: the next N serial-port reads of group instances
           answer 400 resourceNotReady, as for one being recreated.
"""
import json
import os
import signal
import time

from fake_gce_common import (NAME_RE, Ops, check_request_id, known_region, known_zone, link,
                             region_not_found, relative, zone_not_found)
from fake_gce_mig import PROBERS, Groups
from fake_gce_vm import Qemu, Vm

HC_TYPES = {"TCP": "tcpHealthCheck", "SSL": "sslHealthCheck", "HTTP": "httpHealthCheck",
            "HTTPS": "httpsHealthCheck", "HTTP2": "http2HealthCheck", "GRPC": "grpcHealthCheck",
            "GRPC_WITH_TLS": "grpcTlsHealthCheck"}


def add_arguments(p):
    p.add_argument("--instance-boot", choices=("text", "qemu"), default="text")
    p.add_argument("--healthy-text", default="")
    p.add_argument("--tick", type=float, default=0.05)
    p.add_argument("--create-ticks", type=int, default=4)
    p.add_argument("--verify-ticks", type=int, default=4)
    p.add_argument("--delete-ticks", type=int, default=3)
    p.add_argument("--autoheal-ticks", type=int, default=12)
    p.add_argument("--retry-ticks", type=int, default=6)


class Deploy:
    def __init__(self, st, args):
        self.st = st
        self.args = args
        self.ops = Ops(st)
        self.templates = {}
        self.health_checks = {}
        self.firewalls = {}
        self.autoscalers = {}   # "zones/Z/NAME" | "regions/R/NAME" -> dict
        self.calls = {}
        self.vm = Vm(st, args)
        self.groups = Groups(self)
        # The tests stop the server with SIGTERM: no guest may outlive it.
        signal.signal(signal.SIGTERM, self.on_term)

    @staticmethod
    def on_term(signum, frame):
        Qemu.stop_everything()
        os._exit(0)

    # ---- routing ----
    def route(self, h, method, rest, q, body):
        """True when the request was answered here."""
        st = self.st
        if not rest:
            return False
        if rest[:2] == ["global", "images"]:
            if method == "POST" and len(rest) == 2:
                self.vm.remember_image(body)
            if method == "GET" and len(rest) == 4 and rest[2] == "family":
                return self.image_from_family(h, rest[3])
            return False
        if rest[0] == "zones" and len(rest) == 2 and method == "GET":
            if not known_zone(rest[1]):
                zone_not_found(h, rest[1])
            else:
                h.reply(200, {"kind": "compute#zone", "name": rest[1], "status": "UP",
                              "selfLink": link(st, "zones/" + rest[1])})
            return True
        coll = None
        if rest[0] == "global" and len(rest) >= 2:
            coll = rest[1]
        elif rest[0] in ("zones", "regions") and len(rest) >= 3:
            coll = rest[2]
        if coll not in ("instanceTemplates", "healthChecks", "firewalls", "instanceGroupManagers",
                        "autoscalers", "instances", "operations"):
            return False
        with st.lock:
            verb = rest[-1] if rest[-1] in ("listManagedInstances", "listErrors", "resize",
                                            "serialPort") else None
            ckey = "%s %s%s" % (method, coll, "." + verb if verb else "")
            self.calls[ckey] = self.calls.get(ckey, 0) + 1
        f = st.fault("call:%s:%s" % (method, coll))
        if f and not f.get("after"):
            h.gerror(f.get("status", 503), "Backend Error", "rateLimitExceeded"
                     if f.get("status") == 429 else "backendError")
            return True
        if f:
            # The connection is kept alive: only this request's answer is lost.
            h.reply = lost_reply(h, f.get("status", 503))
            try:
                return self.dispatch(h, method, rest, q, body, coll)
            finally:
                del h.reply
        return self.dispatch(h, method, rest, q, body, coll)

    def dispatch(self, h, method, rest, q, body, coll):
        if coll == "operations":
            if rest[0] != "regions":
                return False
            op = h.poll_op(rest[3], "regions/" + rest[1]) if len(rest) in (4, 5) else None
            if op:
                h.reply(200, op)
            else:
                h.gerror(404, "no such operation", "notFound")
            return True
        if rest[0] == "global":
            if method in ("POST", "DELETE") and not check_request_id(h, q):
                return True
            getattr(self, {"instanceTemplates": "templates_call", "healthChecks": "hc_call",
                           "firewalls": "firewall_call"}.get(coll, "unknown"))(
                h, method, rest[2:], q, body)
            return True
        scope = "%s/%s" % (rest[0], rest[1])
        if coll == "instances" and rest[0] == "zones":
            self.vm.handle(h, method, rest[1], rest[3:], q, body)
        elif coll == "instanceGroupManagers":
            self.groups.handle(h, method, scope, rest[3:], q, body)
        elif coll == "autoscalers":
            self.autoscaler_call(h, method, scope, rest[3:], q, body)
        else:
            self.unknown(h, method, rest, q, body)
        return True

    def unknown(self, h, method, rest, q, body):
        self.st.violation("unexpected compute call %s %s" % (method, rest))
        h.gerror(400, "bad request", "invalid")

    def image_from_family(self, h, family):
        st = self.st
        with st.lock:
            imgs = [i for i in st.images.values() if i.get("family") == family and
                    i["status"] == "READY"]
        if not imgs:
            h.gerror(404, "The resource 'projects/%s/global/images/family/%s' was not found"
                     % (st.args.project, family), "notFound")
        else:
            h.reply(200, max(imgs, key=lambda i: int(i["id"])))
        return True

    def parse(self, h, body, what):
        try:
            obj = json.loads(body)
            if isinstance(obj, dict):
                return obj
        except ValueError:
            pass
        self.st.violation("%s body is not a JSON object" % what)
        h.gerror(400, "Invalid JSON payload received.", "parseError")
        return None

    def simple_collection(self, h, method, rest, q, body, store, kind, path, insert, in_use):
        """GET list / GET one / POST insert / DELETE of a global collection."""
        st = self.st
        if method == "GET" and not rest:
            with st.lock:
                items = [public(v) for v in store.values()]
            return h.reply(200, dict({"kind": kind + "List"}, **({"items": items} if items
                                                                 else {})))
        if method == "POST" and not rest:
            rid = q.get("requestId")
            with st.lock:
                if rid and rid in st.request_ids:
                    return h.reply(200, st.request_ids[rid])
            obj = self.parse(h, body, path + ".insert")
            if obj is None:
                return
            name = obj.get("name", "")
            if not NAME_RE.match(name):
                return h.gerror(400, "Invalid value for field 'resource.name': '%s'. Must be a "
                                "match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'" % name,
                                "invalid")
            res = insert(h, obj)
            if res is None:
                return
            with st.lock:
                if name in store:
                    return h.gerror(409, "The resource 'projects/%s/global/%s/%s' already exists"
                                    % (st.args.project, path, name), "alreadyExists")
                res.update({"kind": kind, "name": name, "id": str(st.next_id()),
                            "creationTimestamp": timestamp(st.next_id()),
                            "selfLink": link(st, "global/%s/%s" % (path, name))})
                store[name] = res
            return h.reply(200, self.ops.new(h, "insert", res["selfLink"], "global", rid=rid))
        if len(rest) == 1 and method in ("GET", "DELETE"):
            with st.lock:
                res = store.get(rest[0])
                if not res:
                    return h.gerror(404, "The resource 'projects/%s/global/%s/%s' was not found"
                                    % (st.args.project, path, rest[0]), "notFound")
                if method == "GET":
                    return h.reply(200, public(res))
                user = in_use(rest[0])
                if user:
                    return h.gerror(400, "The %s resource 'projects/%s/global/%s/%s' is already "
                                    "being used by '%s'" % (
                                        {"instanceTemplates": "instance_template",
                                         "healthChecks": "health_check"}.get(path, path),
                                        st.args.project, path, rest[0], user),
                                    "resourceInUseByAnotherResource")

            def done():
                with st.lock:
                    store.pop(rest[0], None)
            return h.reply(200, self.ops.new(h, "delete", res["selfLink"], "global",
                                             done=done, rid=q.get("requestId")))
        self.unknown(h, method, [path] + rest, q, body)

    # ---- instance templates (9.3) ----
    def templates_call(self, h, method, rest, q, body):
        self.simple_collection(h, method, rest, q, body, self.templates,
                               "compute#instanceTemplate", "instanceTemplates",
                               self.template_insert, self.template_user)

    def template_insert(self, h, obj):
        st = self.st
        props = obj.get("properties")
        if not isinstance(props, dict):
            h.gerror(400, "Required field 'resource.properties' not specified", "required")
            return None
        mt = props.get("machineType", "")
        if "/" in mt:
            st.violation("template machineType %r is a URL, not a name" % mt)
            h.gerror(500, "Internal error. Please try again or contact Google Support.",
                     "backendError")
            return None
        if not NAME_RE.match(mt):
            h.gerror(400, "Invalid value for field 'resource.properties.machineType': '%s'" % mt,
                     "invalid")
            return None
        boots = [d for d in props.get("disks", []) if d.get("boot")]
        if len(boots) != 1:
            h.gerror(400, "Invalid value for field 'resource.properties.disks': exactly one "
                     "boot disk is required", "invalid")
            return None
        src = boots[0].get("initializeParams", {}).get("sourceImage", "")
        rel = relative(st, src)
        if not rel or not rel.startswith("global/images/"):
            h.gerror(400, "Invalid value for field 'resource.properties.disks[0]."
                     "initializeParams.sourceImage': '%s'. The URL is malformed." % src, "invalid")
            return None
        image = self.vm.image_of(src)
        if not image:
            h.gerror(400, "Invalid value for field 'resource.properties.disks[0]."
                     "initializeParams.sourceImage': '%s'. The referenced image resource cannot "
                     "be found." % src, "invalid")
            return None
        for it in props.get("metadata", {}).get("items", []):
            if not isinstance(it.get("key"), str) or not isinstance(it.get("value"), str):
                h.gerror(400, "Invalid value for field 'resource.properties.metadata'", "invalid")
                return None
        for k, v in props.get("labels", {}).items():
            if not isinstance(v, str):
                h.gerror(400, "Invalid value for field 'resource.properties.labels'", "invalid")
                return None
        res = {"properties": props, "_image": image}
        if obj.get("description"):
            res["description"] = obj["description"]
        return res

    def template_user(self, name):
        st = self.st
        for g in self.groups.groups.values():
            if any((relative(st, v.get("instanceTemplate", "")) or "").endswith(
                    "/instanceTemplates/" + name) for v in g["versions"]) or \
                    any(i["template"] == name for i in self.groups.members(g)):
                return "projects/%s/%s/instanceGroupManagers/%s" % (st.args.project, g["scope"],
                                                                    g["name"])
        return None

    # ---- health checks and firewalls (9.4, 4.6) ----
    def hc_call(self, h, method, rest, q, body):
        self.simple_collection(h, method, rest, q, body, self.health_checks,
                               "compute#healthCheck", "healthChecks", self.hc_insert,
                               self.hc_user)

    def hc_insert(self, h, obj):
        t = obj.get("type")
        if t not in HC_TYPES:
            h.gerror(400, "Invalid value for field 'resource.type': '%s'" % t, "invalid")
            return None
        given = [f for f in HC_TYPES.values() if f in obj]
        if given != [HC_TYPES[t]]:
            h.gerror(400, "Exactly one of the protocol-specific health check fields must be "
                     "specified, which must match type field", "invalid")
            return None
        spec = dict(obj[HC_TYPES[t]])
        port = spec.setdefault("port", 80)
        if not isinstance(port, int) or not 1 <= port <= 65535:
            h.gerror(400, "Invalid value for field 'resource.%s.port': '%s'" % (HC_TYPES[t], port),
                     "invalid")
            return None
        if t.startswith("HTTP"):
            path = spec.setdefault("requestPath", "/")
            if not isinstance(path, str) or not path.startswith("/"):
                h.gerror(400, "Invalid value for field 'resource.%s.requestPath': '%s'"
                         % (HC_TYPES[t], path), "invalid")
                return None
        res = {"type": t, HC_TYPES[t]: spec}
        for k, d in (("checkIntervalSec", 5), ("timeoutSec", 5), ("healthyThreshold", 2),
                     ("unhealthyThreshold", 2)):
            res[k] = obj.get(k, d)
            if not isinstance(res[k], int) or res[k] <= 0:
                h.gerror(400, "Invalid value for field 'resource.%s': '%s'" % (k, res[k]),
                         "invalid")
                return None
        if res["timeoutSec"] > res["checkIntervalSec"]:
            h.gerror(400, "Invalid value for field 'resource.timeoutSec': %d. TimeoutSec should "
                     "be less than checkIntervalSec." % res["timeoutSec"], "invalid")
            return None
        return res

    def hc_user(self, name):
        st = self.st
        for g in self.groups.groups.values():
            if self.groups.health_check(g) == name:
                return "projects/%s/%s/instanceGroupManagers/%s" % (st.args.project, g["scope"],
                                                                    g["name"])
        return None

    def firewall_call(self, h, method, rest, q, body):
        self.simple_collection(h, method, rest, q, body, self.firewalls, "compute#firewall",
                               "firewalls", self.firewall_insert, lambda name: None)

    def firewall_insert(self, h, obj):
        res = {"network": obj.get("network", "global/networks/default"),
               "direction": obj.get("direction", "INGRESS"),
               "sourceRanges": obj.get("sourceRanges", []),
               "targetTags": obj.get("targetTags", []), "allowed": obj.get("allowed", [])}
        if res["direction"] not in ("INGRESS", "EGRESS") or not res["allowed"]:
            h.gerror(400, "Invalid value for field 'resource.allowed'", "invalid")
            return None
        for a in res["allowed"]:
            if a.get("IPProtocol") not in ("tcp", "udp", "icmp", "all"):
                h.gerror(400, "Invalid value for field 'resource.allowed[0].IPProtocol'",
                         "invalid")
                return None
            if any(not isinstance(p, str) for p in a.get("ports", [])):
                self.st.violation("firewall ports %r are not strings" % a.get("ports"))
                h.gerror(400, "Invalid value for field 'resource.allowed[0].ports'", "invalid")
                return None
        for k in ("description",):
            if k in obj:
                res[k] = obj[k]
        return res

    def probers_allowed(self, hc_name, template):
        """Whether a firewall rule lets the health-check probers reach the template's VMs."""
        hc = self.health_checks.get(hc_name)
        tmpl = self.templates.get(template)
        if not hc or not tmpl:
            return False
        port = hc[HC_TYPES[hc["type"]]]["port"]
        tags = set(tmpl["properties"].get("tags", {}).get("items", []))
        for fw in self.firewalls.values():
            if fw["direction"] != "INGRESS" or not PROBERS <= set(fw["sourceRanges"]):
                continue
            if fw["targetTags"] and not tags & set(fw["targetTags"]):
                continue
            for a in fw["allowed"]:
                if a["IPProtocol"] == "all" or (a["IPProtocol"] == "tcp" and (
                        not a.get("ports") or any(port_in(port, p) for p in a["ports"]))):
                    return True
        return False

    # ---- autoscalers (9.9) ----
    def autoscaler_of(self, g):
        for a in self.autoscalers.values():
            if (relative(self.st, a["target"]) or "") == "%s/instanceGroupManagers/%s" % (
                    g["scope"], g["name"]):
                return a
        return None

    def autoscaler_call(self, h, method, scope, rest, q, body):
        st = self.st
        kind, where = scope.split("/")
        if (kind == "zones" and not known_zone(where)):
            return zone_not_found(h, where)
        if kind == "regions" and not known_region(where):
            return region_not_found(h, where)
        if method in ("POST", "PATCH", "PUT", "DELETE") and not check_request_id(h, q):
            return
        if rest and method in ("PATCH", "PUT"):
            st.violation("autoscaler %s on the resource path (it takes ?autoscaler=NAME on the "
                         "collection)" % method)
            return h.gerror(404, "Not Found", "notFound")
        if len(rest) == 1 and method in ("GET", "DELETE"):
            key = "%s/%s" % (scope, rest[0])
            with st.lock:
                a = self.autoscalers.get(key)
            if not a:
                return h.gerror(404, "The resource 'projects/%s/%s/autoscalers/%s' was not found"
                                % (st.args.project, scope, rest[0]), "notFound")
            if method == "GET":
                return h.reply(200, a)

            def done():
                with st.lock:
                    self.autoscalers.pop(key, None)
            return h.reply(200, self.ops.new(h, "delete", a["selfLink"], scope, done=done,
                                             rid=q.get("requestId")))
        if rest or method not in ("POST", "PATCH", "PUT"):
            return self.unknown(h, method, [scope, "autoscalers"] + rest, q, body)
        rid = q.get("requestId")
        with st.lock:
            if rid and rid in st.request_ids:
                return h.reply(200, st.request_ids[rid])
        obj = self.parse(h, body, "autoscalers." + method)
        if obj is None:
            return
        name = obj.get("name") if method == "POST" else q.get("autoscaler")
        if not name or not NAME_RE.match(name):
            return h.gerror(400, "Invalid value for field 'resource.name': '%s'" % name, "invalid")
        key = "%s/%s" % (scope, name)
        with st.lock:
            old = self.autoscalers.get(key)
            if method == "POST" and old:
                return h.gerror(409, "The resource 'projects/%s/%s/autoscalers/%s' already exists"
                                % (st.args.project, scope, name), "alreadyExists")
            if method != "POST" and not old:
                return h.gerror(404, "The resource 'projects/%s/%s/autoscalers/%s' was not found"
                                % (st.args.project, scope, name), "notFound")
            new = dict(old or {}) if method == "PATCH" else {}
            for k, v in obj.items():
                if k == "autoscalingPolicy" and method == "PATCH" and old:
                    new[k] = dict(old.get(k, {}), **v)
                else:
                    new[k] = v
            target = relative(st, new.get("target", "")) or ""
            parts = target.split("/")
            if len(parts) != 4 or "/".join(parts[:2]) != scope or \
                    parts[2] != "instanceGroupManagers" or target.replace(
                        "/instanceGroupManagers/", "/", 1) not in self.groups.groups:
                return h.gerror(404 if target else 400, "The resource '%s' was not found"
                                % new.get("target"), "notFound" if target else "required")
            pol = new.get("autoscalingPolicy", {})
            lo, hi = pol.get("minNumReplicas", 0), pol.get("maxNumReplicas")
            if not isinstance(hi, int) or not isinstance(lo, int) or lo < 0 or hi < lo:
                return h.gerror(400, "Invalid value for field 'resource.autoscalingPolicy."
                                "maxNumReplicas': '%s'. The maximum number of replicas must not "
                                "be lower than minimal number of replicas." % hi, "invalid")
            cpu = pol.get("cpuUtilization", {}).get("utilizationTarget", 0.6)
            if not isinstance(cpu, (int, float)) or not 0 < cpu <= 1:
                return h.gerror(400, "Invalid value for field 'resource.autoscalingPolicy."
                                "cpuUtilization.utilizationTarget': '%s'" % cpu, "invalid")
            g = self.groups.groups[target.replace("/instanceGroupManagers/", "/", 1)]
            g["targetSize"] = max(lo, min(hi, g["targetSize"]))
            new.update({"kind": "compute#autoscaler", "name": name, "status": "ACTIVE",
                        "recommendedSize": g["targetSize"],
                        "id": (old or {}).get("id") or str(st.next_id()),
                        "selfLink": link(st, "%s/autoscalers/%s" % (scope, name)),
                        kind[:-1]: link(st, scope)})
            self.autoscalers[key] = new
        h.reply(200, self.ops.new(h, {"POST": "insert", "PATCH": "patch", "PUT": "update"}[
            method], new["selfLink"], scope, rid=rid))

    # ---- control ----
    def control(self, h, method, path, q):
        st = self.st
        if path == "/_deploy_state":
            with st.lock:
                out = {"templates": {k: public(v) for k, v in self.templates.items()},
                       "healthChecks": {k: public(v) for k, v in self.health_checks.items()},
                       "firewalls": {k: public(v) for k, v in self.firewalls.items()},
                       "autoscalers": self.autoscalers,
                       "groups": self.groups.state(),
                       "instances": {"%s/%s" % k: {"status": self.vm.state_of(i),
                                                   "group": i.get("group")}
                                     for k, i in st.instances.items()},
                       "calls": self.calls,
                       "violations": st.violations}
            h.reply(200, out)
            return True
        return False


def timestamp(serial):
    # RFC 3339 like GCE's, and strictly increasing so that "newest" is well defined.
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03d%06d-00:00" % (
        int(t * 1000) % 1000, serial % 1000000)


def public(res):
    return {k: v for k, v in res.items() if not k.startswith("_")}


def port_in(port, spec):
    lo, _, hi = spec.partition("-")
    try:
        return int(lo) <= port <= int(hi or lo)
    except ValueError:
        return False


def lost_reply(h, status):
    """A reply() that answers (status) instead of what was meant: the call took effect but its
    answer never reached the client."""
    orig = h.reply

    def reply(code, obj=None, **kw):
        return orig(status, {"error": {"code": status, "message": "Backend Error", "errors": [
            {"message": "Backend Error", "domain": "global", "reason": "backendError"}]}})
    return reply

"""fake_gce_mig.py: managed instance groups for fake_gce.py (docs/cloud-apis.md 9.5-9.8, 9.11):
the group resources and the engine that moves their instances, zonal and regional alike.

The engine runs every --tick seconds. A managed instance goes CREATING (PROVISIONING, STAGING,
RUNNING over --create-ticks) -> VERIFYING (health UNKNOWN for --verify-ticks) -> NONE/HEALTHY,
or stays VERIFYING and is autohealed (RECREATING) after --autoheal-ticks when its template is
unhealthy; DELETING takes --delete-ticks. A PROACTIVE group replaces outdated instances within
maxSurge/maxUnavailable: never more than targetSize + maxSurge instances exist, and an available
instance is deleted only while targetSize - maxUnavailable others stay available. Every change
of counts is appended to the group's history (GET /_deploy_state), so a test can check that.

Health, without probing anything: an instance of a template is healthy when
  - the group has no health check (then RUNNING is enough, as on GCE), or
  - a firewall rule lets the health-check probers reach the checked port on the template's
    tags (without one, GCE's VMs are never healthy), the template is not named in the
    "unhealthy_templates" or "stuck_templates" fault, and its image's boot (see fake_gce_vm.py:
    each image booted once under QEMU with --instance-boot qemu) printed --healthy-text.
A template named in "stuck_templates" stays UNKNOWN/TIMEOUT and is never autohealed: an update
that never converges.
"""
import json
import re
import threading
import time

from fake_gce_common import (NAME_RE, REGIONS, check_request_id, link, known_region,
                             known_zone, region_not_found, relative, zone_not_found)
from fake_gce_vm import QUOTA_MESSAGE, new_instance_name, region_of

BASE_RE = r"^[a-z](([-a-z0-9]{0,57})|([-a-z0-9]{0,51}-#{1,10}(\[[0-9]{1,10}\])?))$"
PROBERS = {"35.191.0.0/16", "130.211.0.0/22"}
ACTIONS = ["abandoning", "creating", "creatingWithoutRetries", "deleting", "none", "recreating",
           "refreshing", "restarting", "resuming", "starting", "stopping", "suspending",
           "verifying"]


def fixed_or_percent(v, target):
    if "fixed" in v:
        return v["fixed"]
    return -(-target * v["percent"] // 100)


class Groups:
    def __init__(self, deploy):
        self.d = deploy
        self.st = deploy.st
        self.args = deploy.args
        self.groups = {}   # "zones/Z/NAME" or "regions/R/NAME" -> dict
        self.tick_no = 0
        threading.Thread(target=self.run, daemon=True).start()

    # ---- HTTP ----
    def handle(self, h, method, scope, rest, q, body):
        st = self.st
        kind, where = scope.split("/")
        if kind == "zones" and not known_zone(where):
            return zone_not_found(h, where)
        if kind == "regions" and not known_region(where):
            return region_not_found(h, where)
        if method in ("POST", "PATCH", "DELETE") and not check_request_id(h, q):
            return
        if not rest:
            if method == "POST":
                return self.insert(h, scope, q, body)
            if method == "GET":
                with st.lock:
                    items = [self.group_json(g) for k, g in self.groups.items()
                             if k.startswith(scope + "/")]
                lk = "compute#regionInstanceGroupManagerList" if kind == "regions" else \
                    "compute#instanceGroupManagerList"
                return h.reply(200, dict({"kind": lk}, **({"items": items} if items else {})))
        key = "%s/%s" % (scope, rest[0])
        with st.lock:
            g = self.groups.get(key)
        if not g:
            return h.gerror(404, "The resource 'projects/%s/%s/instanceGroupManagers/%s' was not "
                            "found" % (st.args.project, scope, rest[0]), "notFound")
        if len(rest) == 1 and method == "GET":
            with st.lock:
                return h.reply(200, self.group_json(g))
        if len(rest) == 1 and method == "PATCH":
            return self.patch(h, g, q, body)
        if len(rest) == 1 and method == "DELETE":
            return self.delete(h, g, q)
        if len(rest) == 2 and rest[1] == "listManagedInstances":
            if method != "POST":
                st.violation("listManagedInstances with %s instead of POST" % method)
                return h.gerror(404, "Not Found", "notFound")
            with st.lock:
                return h.reply(200, {"managedInstances": [self.managed_json(g, i)
                                                          for i in self.members(g)]})
        if len(rest) == 2 and rest[1] == "listErrors" and method == "GET":
            with st.lock:
                items = list(g["errors"])
            return h.reply(200, {"items": items} if items else {})
        if len(rest) == 2 and rest[1] == "resize" and method == "POST":
            if body:
                st.violation("resize with a body (size is a query parameter)")
            try:
                size = int(q["size"])
            except (KeyError, ValueError):
                return h.gerror(400, "Required field 'size' not specified", "required")
            with st.lock:
                g["targetSize"] = size
            return h.reply(200, self.d.ops.new(h, "compute.instanceGroupManagers.resize",
                                               g["selfLink"], scope, rid=q.get("requestId")))
        st.violation("unexpected group call %s %s" % (method, rest))
        h.gerror(400, "bad request", "invalid")

    def check_policy(self, h, g, pol, target):
        """An answer was sent (and False returned) when the updatePolicy is refused."""
        for field, allowed in (("type", ("PROACTIVE", "OPPORTUNISTIC")),
                               ("minimalAction", ("NONE", "REFRESH", "RESTART", "REPLACE")),
                               ("mostDisruptiveAllowedAction", ("NONE", "REFRESH", "RESTART",
                                                                "REPLACE")),
                               ("replacementMethod", ("SUBSTITUTE", "RECREATE")),
                               ("instanceRedistributionType", ("PROACTIVE", "NONE"))):
            if field in pol and pol[field] not in allowed:
                h.gerror(400, "Invalid value for field 'resource.updatePolicy.%s': '%s'"
                         % (field, pol[field]), "invalid")
                return False
        values = {}
        for field in ("maxSurge", "maxUnavailable"):
            v = pol.get(field, {"fixed": g["nzones"]})
            if not isinstance(v, dict) or len([k for k in ("fixed", "percent") if v.get(k)
                                               is not None]) > 1:
                h.gerror(400, "Invalid value for field 'resource.updatePolicy.%s'" % field,
                         "invalid")
                return False
            for k in ("fixed", "percent", "calculated"):
                if k in v and v[k] is not None and not isinstance(v[k], int):
                    self.st.violation("updatePolicy.%s.%s is %r, not a JSON number" % (
                        field, k, v[k]))
            if v.get("percent") is not None and target < 10:
                h.gerror(400, "Invalid value for field 'resource.updatePolicy.%s.percent': "
                         "percent is allowed only when the group has 10 or more instances"
                         % field, "invalid")
                return False
            n = fixed_or_percent({k: x for k, x in v.items() if x is not None and k !=
                                  "calculated"} or {"fixed": 0}, target)
            if n < 0 or (g["nzones"] > 1 and "fixed" in v and 0 < n < g["nzones"]):
                h.gerror(400, "Invalid value for field 'resource.updatePolicy.%s.fixed': %d. "
                         "Fixed must be 0 or at least the number of zones (%d)."
                         % (field, n, g["nzones"]), "invalid")
                return False
            values[field] = n
        if values["maxSurge"] == 0 and values["maxUnavailable"] == 0:
            h.gerror(400, "Invalid value for field 'resource.updatePolicy': maxSurge and "
                     "maxUnavailable cannot both be 0.", "invalid")
            return False
        return True

    def check_refs(self, h, body):
        """Templates and health checks named by (body) exist; False after answering."""
        refs = [v.get("instanceTemplate", "") for v in body.get("versions", [])]
        if body.get("instanceTemplate"):
            refs.append(body["instanceTemplate"])
        for ref in refs:
            rel = relative(self.st, ref) or ""
            if not rel.startswith("global/instanceTemplates/") or \
                    rel.split("/")[-1] not in self.d.templates:
                h.gerror(404, "The resource '%s' was not found" % ref, "notFound")
                return False
        for p in body.get("autoHealingPolicies") or []:
            rel = relative(self.st, p.get("healthCheck", "")) or ""
            if not rel.startswith("global/healthChecks/") or \
                    rel.split("/")[-1] not in self.d.health_checks:
                h.gerror(404, "The resource '%s' was not found" % p.get("healthCheck"),
                         "notFound")
                return False
            d = p.get("initialDelaySec", 0)
            if not isinstance(d, int) or not 0 <= d <= 3600:
                h.gerror(400, "Invalid value for field 'resource.autoHealingPolicies[0]."
                         "initialDelaySec': '%s'" % d, "invalid")
                return False
        if len(body.get("autoHealingPolicies") or []) > 1:
            h.gerror(400, "Only one autohealing policy is supported", "invalid")
            return False
        vs = body.get("versions")
        if vs is not None and len([v for v in vs if v.get("targetSize") is None]) != 1:
            h.gerror(400, "Exactly one version must leave the targetSize field unset",
                     "invalid")
            return False
        return True

    def insert(self, h, scope, q, body):
        st = self.st
        rid = q.get("requestId")
        with st.lock:
            if rid and rid in st.request_ids:
                return h.reply(200, st.request_ids[rid])
        try:
            body = json.loads(body)
        except ValueError:
            st.violation("instanceGroupManagers.insert body is not JSON")
            return h.gerror(400, "Invalid JSON payload received.", "parseError")
        name = body.get("name", "")
        if not NAME_RE.match(name):
            return h.gerror(400, "Invalid value for field 'resource.name': '%s'" % name, "invalid")
        base = body.get("baseInstanceName", "")
        if not re.match(BASE_RE, base):
            return h.gerror(400, "Invalid value for field 'resource.baseInstanceName': '%s'"
                            % base, "invalid")
        if "targetSize" not in body:
            st.violation("group %s created without an explicit targetSize" % name)
        elif not isinstance(body["targetSize"], int):
            st.violation("targetSize %r is not a JSON number" % body["targetSize"])
        if "updatePolicy" not in body:
            st.violation("group %s created without an explicit updatePolicy" % name)
        if not body.get("versions") and not body.get("instanceTemplate"):
            return h.gerror(400, "Required field 'resource.instanceTemplate' not specified",
                            "required")
        kind, where = scope.split("/")
        zones = [where] if kind == "zones" else [
            z["zone"].rsplit("/", 1)[-1] for z in
            body.get("distributionPolicy", {}).get("zones", [])] or REGIONS[where][:3]
        target = body.get("targetSize", 0)
        g = {"name": name, "scope": scope, "nzones": len(zones), "zones": zones}
        if not self.check_refs(h, body) or \
                not self.check_policy(h, g, body.get("updatePolicy", {}), target):
            return
        key = "%s/%s" % (scope, name)
        with st.lock:
            if key in self.groups:
                return h.gerror(409, "The resource 'projects/%s/%s/instanceGroupManagers/%s' "
                                "already exists" % (st.args.project, scope, name),
                                "alreadyExists")
            versions = body.get("versions") or [{"instanceTemplate": body["instanceTemplate"]}]
            g.update({"id": str(st.next_id()), "base": base, "targetSize": target,
                      "versions": versions, "description": body.get("description", ""),
                      "autoHealingPolicies": body.get("autoHealingPolicies", []),
                      "updatePolicy": body.get("updatePolicy", {}),
                      "fingerprint": "fp%d" % st.next_id(), "errors": [], "history": [],
                      "patches": [], "selfLink": link(st, "%s/instanceGroupManagers/%s"
                                                      % (scope, name))})
            self.groups[key] = g
        h.reply(200, self.d.ops.new(h, "compute.instanceGroupManagers.insert", g["selfLink"],
                                    scope, rid=rid))

    def patch(self, h, g, q, body):
        st = self.st
        rid = q.get("requestId")
        with st.lock:
            if rid and rid in st.request_ids:
                return h.reply(200, st.request_ids[rid])
        if h.headers.get("Content-Type", "").split(";")[0] != "application/json":
            st.violation("PATCH with Content-Type %r" % h.headers.get("Content-Type"))
        try:
            body = json.loads(body)
        except ValueError:
            st.violation("instanceGroupManagers.patch body is not JSON")
            return h.gerror(400, "Invalid JSON payload received.", "parseError")
        if not isinstance(body, dict):
            return h.gerror(400, "Invalid JSON payload received.", "parseError")
        with st.lock:
            if body.get("fingerprint") not in (None, g["fingerprint"]):
                return h.gerror(412, "Supplied fingerprint does not match current fingerprint.",
                                "conditionNotMet")
            pol = dict(g["updatePolicy"])
            for k, v in (body.get("updatePolicy") or {}).items():
                if v is None:
                    pol.pop(k, None)
                elif isinstance(v, dict) and isinstance(pol.get(k), dict):
                    merged = dict(pol[k], **v)
                    pol[k] = {kk: vv for kk, vv in merged.items() if vv is not None}
                else:
                    pol[k] = v
            target = body.get("targetSize", g["targetSize"])
            if not self.check_refs(h, body) or not self.check_policy(h, g, pol, target):
                return
            if "versions" in body:
                g["versions"] = body["versions"]
            elif body.get("instanceTemplate"):
                g["versions"] = [{"instanceTemplate": body["instanceTemplate"]}]
            if "autoHealingPolicies" in body:
                g["autoHealingPolicies"] = body["autoHealingPolicies"] or []
            g["targetSize"] = target
            g["updatePolicy"] = pol
            g["fingerprint"] = "fp%d" % st.next_id()
            g["patches"].append({"tick": self.tick_no, "versions": g["versions"]})
        h.reply(200, self.d.ops.new(h, "compute.instanceGroupManagers.patch", g["selfLink"],
                                    g["scope"], rid=rid))

    def delete(self, h, g, q):
        st = self.st
        key = "%s/%s" % (g["scope"], g["name"])
        for a in self.d.autoscalers.values():
            if (relative(st, a["target"]) or "") == "%s/instanceGroupManagers/%s" % (
                    g["scope"], g["name"]):
                return h.gerror(400, "The instance_group_manager resource '%s' is already being "
                                "used by '%s'" % (key, a["selfLink"]),
                                "resourceInUseByAnotherResource")

        def done():
            with st.lock:
                for k in [k for k, i in st.instances.items() if i.get("group") == key]:
                    del st.instances[k]
                self.groups.pop(key, None)
        with st.lock:
            g["targetSize"] = 0
            g["versions"] = []
        h.reply(200, self.d.ops.new(h, "compute.instanceGroupManagers.delete", g["selfLink"],
                                    g["scope"], done=done, rid=q.get("requestId")))

    # ---- JSON views ----
    def members(self, g):
        key = "%s/%s" % (g["scope"], g["name"])
        return [i for i in self.st.instances.values() if i.get("group") == key]

    def policy_json(self, g):
        pol = json.loads(json.dumps(g["updatePolicy"]))
        for f in ("maxSurge", "maxUnavailable"):
            v = pol.setdefault(f, {"fixed": g["nzones"]})
            v["calculated"] = fixed_or_percent(v, g["targetSize"])
        return pol

    def group_json(self, g):
        st = self.st
        counts = dict.fromkeys(ACTIONS, 0)
        for i in self.members(g):
            counts[i["action"].lower().replace("_without_retries", "WithoutRetries")] += 1
        status = self.status(g)
        out = {"kind": "compute#instanceGroupManager", "id": g["id"], "name": g["name"],
               "baseInstanceName": g["base"], "fingerprint": g["fingerprint"],
               "targetSize": g["targetSize"], "versions": g["versions"],
               "currentActions": counts,
               "status": {"isStable": status["stable"],
                          "versionTarget": {"isReached": status["reached"]},
                          "stateful": {"hasStatefulConfig": False,
                                       "perInstanceConfigs": {"allEffective": True}}},
               "updatePolicy": self.policy_json(g),
               "instanceGroup": g["selfLink"].replace("instanceGroupManagers", "instanceGroups"),
               "selfLink": g["selfLink"], "listManagedInstancesResults": "PAGELESS"}
        if g["description"]:
            out["description"] = g["description"]
        if len(g["versions"]) == 1:
            out["instanceTemplate"] = g["versions"][0]["instanceTemplate"]
        if g["autoHealingPolicies"]:
            out["autoHealingPolicies"] = g["autoHealingPolicies"]
        kind, where = g["scope"].split("/")
        if kind == "zones":
            out["zone"] = link(st, g["scope"])
        else:
            out["region"] = link(st, g["scope"])
            out["distributionPolicy"] = {"zones": [{"zone": link(st, "zones/" + z)}
                                                   for z in g["zones"]],
                                         "targetShape": "EVEN"}
        a = self.d.autoscaler_of(g)
        if a:
            out["status"]["autoscaler"] = a["selfLink"]
        return out

    def managed_json(self, g, i):
        st = self.st
        out = {"instance": link(st, "zones/%s/instances/%s" % (i["zone"], i["name"])),
               "currentAction": i["action"], "name": i["name"]}
        if i["state"]:
            out["id"] = i["id"]
            out["instanceStatus"] = i["state"]
        if i["action"] not in ("DELETING", "ABANDONING"):
            out["version"] = {"instanceTemplate": link(st, "global/instanceTemplates/" +
                                                      i["template"])}
            if i.get("version_name"):
                out["version"]["name"] = i["version_name"]
        hc = self.health_check(g)
        if hc and i["state"]:
            out["instanceHealth"] = [{"healthCheck": link(st, "global/healthChecks/" + hc),
                                      "detailedHealthState": i["health"]}]
        if i["last_errors"]:
            out["lastAttempt"] = {"errors": {"errors": i["last_errors"]}}
        return out

    # ---- the engine ----
    def health_check(self, g):
        pols = g["autoHealingPolicies"]
        if not pols:
            return None
        return (relative(self.st, pols[0].get("healthCheck", "")) or "").split("/")[-1]

    def desired(self, g):
        """template name -> number of instances wanted."""
        target, out, rest = g["targetSize"], {}, None
        for v in g["versions"]:
            t = (relative(self.st, v.get("instanceTemplate", "")) or "").split("/")[-1]
            if v.get("targetSize") is None:
                rest = t
                continue
            out[t] = min(target - sum(out.values()), fixed_or_percent(v["targetSize"], target))
        if rest is not None:
            out[rest] = out.get(rest, 0) + target - sum(out.values())
        return out

    def version_name(self, g, template):
        for v in g["versions"]:
            if (relative(self.st, v.get("instanceTemplate", "")) or "").endswith("/" + template):
                return v.get("name")
        return None

    def status(self, g):
        want = self.desired(g)
        live = [i for i in self.members(g) if i["action"] != "DELETING"]
        have = {}
        for i in live:
            have[i["template"]] = have.get(i["template"], 0) + 1
        reached = have == {t: n for t, n in want.items() if n} and all(
            i["action"] == "NONE" for i in live)
        stable = reached and all(i["action"] == "NONE" for i in self.members(g))
        return {"reached": reached, "stable": stable}

    def template_health(self, g, template):
        """True, False (unhealthy: autohealed), 'stuck' (never known), or None (not yet)."""
        st = self.st
        hc = self.health_check(g)
        if not hc:
            return True
        if any(template.startswith(n) for n in st.faults.get("stuck_templates", {}).get(
                "names", [])):
            return "stuck"
        if not self.d.probers_allowed(hc, template):
            return "stuck"
        if any(template.startswith(n) for n in st.faults.get("unhealthy_templates", {}).get(
                "names", [])):
            return False
        image = self.d.templates.get(template, {}).get("_image")
        return self.d.vm.healthy_image(image) if image else False

    def run(self):
        while True:
            time.sleep(self.args.tick)
            with self.st.lock:
                self.tick_no += 1
                for g in list(self.groups.values()):
                    self.step(g)

    def step(self, g):
        a = self.args
        for i in self.members(g):
            i["ticks"] += 1
            if i["action"] in ("CREATING", "RECREATING") and not i["state"]:
                if i["ticks"] >= a.retry_ticks or not i["attempts"]:
                    i["ticks"] = 0
                    i["attempts"] += 1
                    if self.d.vm.quota_hit():
                        err = {"code": "QUOTA_EXCEEDED", "message": QUOTA_MESSAGE %
                               region_of(i["zone"])}
                        i["last_errors"] = [err]
                        g["errors"].append({
                            "error": err, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "instanceActionDetails": {
                                "action": "CREATING",
                                "instance": link(self.st, "zones/%s/instances/%s" % (
                                    i["zone"], i["name"])),
                                "version": {"instanceTemplate": link(
                                    self.st, "global/instanceTemplates/" + i["template"])}}})
                    else:
                        i["last_errors"] = []
                        i["state"] = "PROVISIONING"
            elif i["action"] in ("CREATING", "RECREATING"):
                if i["ticks"] >= a.create_ticks:
                    i["state"] = "RUNNING"
                    i["ticks"] = 0
                    i["action"] = "VERIFYING" if self.health_check(g) else "NONE"
                    i["health"] = "UNKNOWN"
                elif i["ticks"] * 2 >= a.create_ticks:
                    i["state"] = "STAGING"
            elif i["action"] == "VERIFYING":
                health = self.template_health(g, i["template"])
                if i["ticks"] < a.verify_ticks or health is None:
                    pass
                elif health is True:
                    i["action"], i["health"] = "NONE", "HEALTHY"
                elif health == "stuck":
                    i["health"] = "TIMEOUT"
                else:
                    i["health"] = "UNHEALTHY"
                    if i["ticks"] >= a.autoheal_ticks:
                        i["action"], i["state"], i["ticks"] = "RECREATING", "", 0
                        i["health"] = "UNKNOWN"
                        i["recreations"] += 1
            elif i["action"] == "DELETING":
                i["state"] = "STOPPING"
                if i["ticks"] >= a.delete_ticks:
                    self.st.instances.pop((i["zone"], i["name"]), None)
        self.decide(g)
        self.record(g)

    def decide(self, g):
        pol = self.policy_json(g)
        surge, unav = pol["maxSurge"]["calculated"], pol["maxUnavailable"]["calculated"]
        proactive = pol.get("type", "PROACTIVE") == "PROACTIVE"
        target = g["targetSize"]
        members = self.members(g)
        live = [i for i in members if i["action"] != "DELETING"]
        available = [i for i in live if i["action"] == "NONE" and i["state"] == "RUNNING"]
        want = self.desired(g)
        # Outdated: on a template no version wants, or beyond a version's count; the least
        # useful (not yet available, then the newest) go first.
        by_t = {}
        for i in live:
            by_t.setdefault(i["template"], []).append(i)
        outdated = []
        for t, insts in by_t.items():
            insts.sort(key=lambda i: (i in available, -i["serial_no"]))
            excess = len(insts) - want.get(t, 0)
            outdated += insts[:max(0, excess)]
        outdated.sort(key=lambda i: i in available)
        updating = proactive or len(live) > target
        for i in outdated:
            if not updating and i in available:
                continue
            if i in available:
                if len(available) - 1 < target - unav:
                    continue
                available.remove(i)
            i["action"], i["ticks"] = "DELETING", 0
            live.remove(i)
        have = {}
        for i in live:
            have[i["template"]] = have.get(i["template"], 0) + 1
        # Instances being deleted still exist: they count against the surge.
        room = target + (surge if proactive else 0) - len(members)
        for t, n in want.items():
            for _ in range(max(0, min(n - have.get(t, 0), room))):
                self.create(g, t)
                room -= 1

    def create(self, g, template):
        st = self.st
        # An even spread (targetShape EVEN): the zone with the fewest of the group's instances.
        zones = g["zones"]
        zone = min(zones, key=lambda z: (sum(1 for i in self.members(g) if i["zone"] == z),
                                         zones.index(z)))
        name = new_instance_name(st, g["base"])
        st.instances[(zone, name)] = {
            "group": "%s/%s" % (g["scope"], g["name"]), "group_path": "projects/%s/%s/"
            "instanceGroupManagers/%s" % (st.args.project, g["scope"], g["name"]),
            "name": name, "zone": zone, "id": str(st.next_id()), "serial_no": st.next_id(),
            "template": template, "version_name": self.version_name(g, template),
            "image": self.d.templates.get(template, {}).get("_image"), "state": "",
            "action": "CREATING", "health": "UNKNOWN", "ticks": 0, "attempts": 0,
            "last_errors": [], "recreations": 0}

    def record(self, g):
        members = self.members(g)
        entry = {"existing": len(members),
                 "available": len([i for i in members if i["action"] == "NONE" and
                                   i["state"] == "RUNNING"]),
                 "target": g["targetSize"], "templates": {}}
        for i in members:
            if i["action"] != "DELETING":
                entry["templates"][i["template"]] = entry["templates"].get(i["template"], 0) + 1
        last = g["history"][-1] if g["history"] else None
        if last is None or {k: v for k, v in last.items() if k != "tick"} != entry:
            entry["tick"] = self.tick_no
            g["history"].append(entry)

    def state(self):
        out = {}
        for k, g in self.groups.items():
            gj = self.group_json(g)
            gj["history"] = g["history"]
            gj["patches"] = g["patches"]
            gj["errors"] = g["errors"]
            gj["instances"] = [dict(self.managed_json(g, i), template=i["template"],
                                    zone=i["zone"], recreations=i["recreations"])
                               for i in self.members(g)]
            out[k] = gj
        return out


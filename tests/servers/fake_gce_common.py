"""fake_gce_common.py: what the Compute Engine parts of fake_gce.py share: names, links,
zones and regions, and Operations in every scope (global, zonal, regional; cloud-apis.md 9.2)."""
import re
import secrets
import time

NAME_RE = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
API = "https://www.googleapis.com/compute/v1/"
REGIONS = {
    "us-central1": ["us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"],
    "us-east1": ["us-east1-b", "us-east1-c", "us-east1-d"],
    "europe-west1": ["europe-west1-b", "europe-west1-c", "europe-west1-d"],
}


def known_zone(zone):
    return any(zone in zones for zones in REGIONS.values())


def known_region(region):
    return region in REGIONS


def zone_not_found(h, zone):
    return h.gerror(404, "The resource 'projects/%s/zones/%s' was not found" % (
        h.st.args.project, zone), "notFound")


def region_not_found(h, region):
    return h.gerror(404, "The resource 'projects/%s/regions/%s' was not found" % (
        h.st.args.project, region), "notFound")


def link(st, path):
    """The full URL responses carry for projects/P/(path)."""
    return "%sprojects/%s/%s" % (API, st.args.project, path)


def relative(st, ref):
    """A reference (full or partial URL) as 'global/instanceTemplates/T' within our project,
    or None when it names another project or is malformed."""
    if ref.startswith(API):
        ref = ref[len(API):]
    if ref.startswith("projects/"):
        parts = ref.split("/", 2)
        if len(parts) < 3 or parts[1] != st.args.project:
            return None
        ref = parts[2]
    return ref


class Ops:
    """Creates Operations; fake_gce.py's poll_op() answers for them (its key for a zonal one is
    the zone, for a regional one 'regions/R', for a global one None)."""

    def __init__(self, st):
        self.st = st

    def new(self, h, kind, target, scope, done=None, rid=None, polls=None):
        """scope: 'global', 'zones/Z' or 'regions/R'. (done) runs when the Operation becomes
        DONE and returns an error dict or None. With (rid) a repeat returns the same op."""
        st = self.st
        with st.lock:
            if rid and rid in st.request_ids:
                return st.request_ids[rid]
        name = "operation-%d-%s" % (int(time.time() * 1000), secrets.token_hex(6))
        op = {"kind": "compute#operation", "id": str(st.next_id()), "name": name,
              "operationType": kind, "targetLink": target, "status": "PENDING", "progress": 0,
              "insertTime": "2024-01-01T00:00:00.000-08:00",
              "selfLink": link(st, "%s/operations/%s" % (scope, name))}
        key = None
        if scope.startswith("zones/"):
            op["zone"] = link(st, scope)
            key = scope[len("zones/"):]
        elif scope.startswith("regions/"):
            op["region"] = link(st, scope)
            key = scope
        with st.lock:
            st.operations[name] = {"op": op, "polls": st.args.op_polls if polls is None else polls,
                                   "done": done, "zone": key}
            if rid:
                st.request_ids[rid] = op
        return op


def check_request_id(h, q):
    """False (after answering) when a mutating call's requestId is not a UUID."""
    rid = q.get("requestId")
    if rid is not None and (not UUID_RE.match(rid) or rid == "00000000-0000-0000-0000-000000000000"):
        h.st.violation("requestId %r is not a UUID" % rid)
        h.gerror(400, "Invalid value for field 'requestId': '%s'" % rid, "invalid")
        return False
    return True


# Where images and buckets may be stored: multi-regions, dual-regions and regions.
MULTI_REGIONS = {"us", "eu", "asia", "nam4", "eur4", "eur5", "eur7", "eur8", "asia1"}
STORAGE_REGIONS = {"us-central1", "us-east1", "us-east4", "us-west1", "us-west2", "europe-west1",
                   "europe-west2", "europe-west3", "europe-west4", "asia-east1", "asia-northeast1",
                   "asia-southeast1", "australia-southeast1", "northamerica-northeast1",
                   "southamerica-east1"}

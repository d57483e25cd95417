#!/usr/bin/python3
"""openstack_setup.py: the Keystone records the OpenStack tests need, made through the API
once keystone-manage bootstrap has run, and the clouds.yaml that uses them.

  openstack_setup.py DIR KPORT GPORT G2PORT PPORT HPORT KPPORT   (admin and demo passwords on stdin)
  openstack_setup.py --check DIR                    (demo can list images in RegionOne)

Called by openstack-local.sh; see its header for the clouds it writes.
"""
import json
import sys
import urllib.error
import urllib.request


def call(method, url, token=None, body=None, want=(200, 201, 204)):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            status, headers = resp.status, resp.headers
    except urllib.error.HTTPError as e:
        raw, status, headers = e.read(), e.code, e.headers
    if status not in want:
        raise SystemExit("%s %s: HTTP %d: %s" % (method, url, status, raw[:300]))
    return (json.loads(raw) if raw else {}), headers


def token(kurl, user, password, project):
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    js, headers = call("POST", kurl + "/auth/tokens", body=body)
    return headers["X-Subject-Token"], js["token"]


def find(listing, key, name):
    for x in listing[key]:
        if x.get("name") == name:
            return x["id"]
    raise SystemExit("no %s named %s" % (key, name))


def cloud(kurl, user, password, project, region):
    return {"auth": {"auth_url": kurl, "username": user, "password": password,
                     "project_name": project, "user_domain_name": "Default",
                     "project_domain_name": "Default"},
            "region_name": region, "interface": "public", "identity_api_version": 3}


def yaml_scalar(v):
    return json.dumps(v) if isinstance(v, str) else str(v)


def write_yaml(f, obj, indent=0):
    # clouds.yaml in block style; strings are JSON-quoted, which is valid YAML.
    for k, v in obj.items():
        if isinstance(v, dict):
            f.write("%s%s:\n" % (" " * indent, k))
            write_yaml(f, v, indent + 2)
        else:
            f.write("%s%s: %s\n" % (" " * indent, k, yaml_scalar(v)))


def setup(d, kport, gport, g2port, pport, hport, kpport):
    admin_pw = sys.stdin.readline().strip()
    demo_pw = sys.stdin.readline().strip()
    k = "http://127.0.0.1:%s/v3" % kport
    tok, _ = token(k, "admin", admin_pw, "admin")

    svc, _ = call("POST", k + "/services", tok,
                  {"service": {"type": "image", "name": "glance", "enabled": True}})
    sid = svc["service"]["id"]
    for region in ("NoQcow2", "CutRegion", "NoImage", "HoldRegion"):
        call("POST", k + "/regions", tok, {"region": {"id": region}})

    def endpoint(region, iface, url):
        call("POST", k + "/endpoints", tok, {"endpoint": {
            "service_id": sid, "interface": iface, "region_id": region, "url": url}})

    for iface in ("public", "internal", "admin"):
        endpoint("RegionOne", iface, "http://127.0.0.1:%s" % gport)
    endpoint("NoQcow2", "public", "http://127.0.0.1:%s" % g2port)
    endpoint("CutRegion", "public", "http://127.0.0.1:%s" % pport)
    endpoint("HoldRegion", "public", "http://127.0.0.1:%s" % hport)

    member = find(call("GET", k + "/roles", tok)[0], "roles", "member")
    projects = {}
    for name in ("demo", "noimage"):
        p, _ = call("POST", k + "/projects", tok,
                    {"project": {"name": name, "domain_id": "default"}})
        projects[name] = p["project"]["id"]
    u, _ = call("POST", k + "/users", tok, {"user": {
        "name": "demo", "domain_id": "default", "password": demo_pw,
        "default_project_id": projects["demo"]}})
    uid = u["user"]["id"]
    for pid in projects.values():
        call("PUT", "%s/projects/%s/users/%s/roles/%s" % (k, pid, uid, member), tok)

    # Endpoint filtering: project noimage sees only Keystone's public endpoint.
    eps = call("GET", k + "/endpoints?interface=public", tok)[0]["endpoints"]
    services = {s["id"]: s["type"] for s in call("GET", k + "/services", tok)[0]["services"]}
    for ep in eps:
        if services.get(ep["service_id"]) == "identity":
            call("PUT", "%s/OS-EP-FILTER/projects/%s/endpoints/%s"
                 % (k, projects["noimage"], ep["id"]), tok)

    demo_tok, _ = token(k, "demo", demo_pw, "demo")
    ac, _ = call("POST", "%s/users/%s/application_credentials" % (k, uid), demo_tok,
                 {"application_credential": {"name": "mkimage-test"}})
    ac = ac["application_credential"]

    clouds = {
        "local": cloud(k, "demo", demo_pw, "demo", "RegionOne"),
        "local-appcred": {"auth_type": "v3applicationcredential",
                          "auth": {"auth_url": k, "application_credential_id": ac["id"],
                                   "application_credential_secret": ac["secret"]},
                          "region_name": "RegionOne", "interface": "public",
                          "identity_api_version": 3},
        "local-admin": cloud(k, "admin", admin_pw, "admin", "RegionOne"),
        "local-noqcow2": cloud(k, "demo", demo_pw, "demo", "NoQcow2"),
        "local-cut": cloud(k, "demo", demo_pw, "demo", "CutRegion"),
        "local-noregion": cloud(k, "demo", demo_pw, "demo", "NoImage"),
        "local-noimage": cloud(k, "demo", demo_pw, "noimage", "RegionOne"),
        "local-hold": cloud(k, "demo", demo_pw, "demo", "HoldRegion"),
        "local-shortlife": cloud("http://127.0.0.1:%s/v3" % kpport, "demo", demo_pw, "demo",
                                 "HoldRegion"),
    }
    with open(d + "/clouds.yaml", "w") as f:
        write_yaml(f, {"clouds": clouds})
    with open(d + "/ports", "w") as f:
        f.write("KPORT=%s\nGPORT=%s\nG2PORT=%s\nPPORT=%s\nHPORT=%s\nKPPORT=%s\n"
                % (kport, gport, g2port, pport, hport, kpport))
    print("set up: keystone %s, glance %s and %s, proxy %s" % (kport, gport, g2port, pport))


def check(d):
    ports = dict(line.strip().split("=") for line in open(d + "/ports"))
    k = "http://127.0.0.1:%s/v3" % ports["KPORT"]
    demo_pw = None
    # The demo password is in clouds.yaml, written above.
    for line in open(d + "/clouds.yaml"):
        if line.strip().startswith("password:") and demo_pw is None:
            demo_pw = json.loads(line.split(":", 1)[1])
    tok, _ = token(k, "demo", demo_pw, "demo")
    call("GET", "http://127.0.0.1:%s/v2/images" % ports["GPORT"], tok, want=(200,))
    print("glance lists images")


if __name__ == "__main__":
    if sys.argv[1] == "--check":
        check(sys.argv[2])
    else:
        setup(*sys.argv[1:8])

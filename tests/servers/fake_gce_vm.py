"""fake_gce_vm.py: instances for fake_gce.py (docs/cloud-apis.md 4.5, 9.13): create, get,
serial port, delete, and how an instance "boots" its image.

Two ways to boot, chosen with --instance-boot:
  text  the serial console shows a fixed text (--serial) and the instance runs until deleted:
        cheap, the default, what the push tests use;
  qemu  the image's own disk is booted under QEMU (TCG) and its real serial output is served;
        the instance is TERMINATED when the guest powers off (isa-debug-exit), as on GCE.
A single instance (run gce, push --boot-check) gets its own QEMU. Instances of a managed
group never do: a 2-core machine cannot boot a fleet. Each distinct image a group uses is
booted once, and its serial output stands for every instance made from it (ImageBoots).
"""
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse

from fake_gce_common import NAME_RE, Ops, known_zone, link, zone_not_found

QUOTA_MESSAGE = "Quota 'CPUS' exceeded.  Limit: 8.0 in region %s."
BOOT_SECONDS = 60


def region_of(zone):
    return zone.rsplit("-", 1)[0]


class ImageDisk:
    """Unpacks an image's archive (a GCE disk.tar.gz) into a sparse disk.raw."""

    @staticmethod
    def unpack(data, folder):
        arch = os.path.join(folder, "disk.tar.gz")
        with open(arch, "wb") as f:
            f.write(data)
        r = subprocess.run(["tar", "-xzSf", arch, "-C", folder], capture_output=True)
        os.unlink(arch)
        disk = os.path.join(folder, "disk.raw")
        return disk if r.returncode == 0 and os.path.exists(disk) else None


class Qemu:
    """One guest under QEMU (TCG) with its serial console in a file."""
    running_guests = set()

    @classmethod
    def stop_everything(cls):
        for q in list(cls.running_guests):
            q.stop()

    def __init__(self, data):
        self.dir = tempfile.mkdtemp(prefix="fake-gce-vm-")
        self.serial = os.path.join(self.dir, "serial.log")
        self.proc = None
        self.failed = None
        disk = ImageDisk.unpack(data, self.dir) if data else None
        if not disk:
            self.failed = "the image's archive could not be unpacked"
            return
        open(self.serial, "wb").close()
        self.proc = subprocess.Popen(
            ["qemu-system-x86_64", "-nodefaults", "-display", "none", "-monitor", "none",
             "-no-reboot", "-machine", "pc", "-accel", "tcg", "-m", "64",
             "-serial", "file:" + self.serial,
             "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
             "-drive", "file=%s,format=raw,if=ide,snapshot=on" % disk],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.started = time.time()
        Qemu.running_guests.add(self)

    def running(self):
        if not self.proc:
            return False
        if self.proc.poll() is None and time.time() - self.started > BOOT_SECONDS:
            self.proc.kill()
        return self.proc.poll() is None

    def output(self):
        try:
            with open(self.serial, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        Qemu.running_guests.discard(self)
        shutil.rmtree(self.dir, ignore_errors=True)


class ImageBoots:
    """Boots each image once (in the background) for the instances of managed groups."""

    def __init__(self, vm):
        self.vm = vm
        self.results = {}   # image -> {"done": bool, "serial": bytes}
        self.lock = threading.Lock()

    def result(self, image):
        with self.lock:
            r = self.results.get(image)
            if r is None:
                r = self.results[image] = {"done": False, "serial": b""}
                threading.Thread(target=self.boot, args=(image, r), daemon=True).start()
            return r

    def boot(self, image, r):
        q = Qemu(self.vm.image_data.get(image))
        try:
            while q.running():
                time.sleep(0.05)
            r["serial"] = q.output()
        finally:
            q.stop()
            r["done"] = True


class Vm:
    """The instances collection, and the boot of every instance."""

    def __init__(self, st, args):
        self.st = st
        self.args = args
        self.image_data = {}    # image name -> archive bytes (kept when images are created)
        self.boots = ImageBoots(self)
        self.ops = Ops(st)

    # ---- how an image boots ----
    def image_of(self, source):
        """The image name a sourceImage reference names (family forms resolved), or None."""
        st = self.st
        m = re.match(r"^(?:https://www\.googleapis\.com/compute/v1/)?(?:projects/([^/]+)/)?"
                     r"global/images/(family/)?([a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)$", source)
        if not m or (m.group(1) and m.group(1) != st.args.project):
            return None
        if m.group(2):
            fam = [i for i in st.images.values()
                   if i.get("family") == m.group(3) and i["status"] == "READY"]
            return max(fam, key=lambda i: int(i["id"]))["name"] if fam else None
        img = st.images.get(m.group(3))
        return img["name"] if img and img["status"] == "READY" else None

    def group_serial(self, image):
        """(done, serial text) of the image's boot, for managed instances."""
        if self.args.instance_boot != "qemu":
            return True, self.fixed_serial()
        r = self.boots.result(image)
        return r["done"], r["serial"].decode(errors="replace")

    def fixed_serial(self):
        return "SeaBIOS (version fake)\nBooting from Hard Disk...\n" + self.args.serial + "\n"

    def healthy_image(self, image):
        """None while unknown; True when the boot printed --healthy-text (any boot, without it)."""
        done, text = self.group_serial(image)
        if not done:
            return None
        return not self.args.healthy_text or self.args.healthy_text in text

    def quota_hit(self):
        return self.st.fault("quota") is not None

    # ---- the instances collection ----
    def handle(self, h, method, zone, rest, q, body):
        st = self.st
        if not known_zone(zone):
            return zone_not_found(h, zone)
        if method == "POST" and not rest:
            return self.insert(h, zone, q, body)
        key = (zone, rest[0]) if rest else None
        with st.lock:
            inst = st.instances.get(key) if key else None
        if len(rest) == 1 and method == "GET":
            if not inst:
                return h.gerror(404, "The resource 'projects/%s/zones/%s/instances/%s' was not "
                                "found" % (st.args.project, zone, rest[0]), "notFound")
            return h.reply(200, self.instance_json(zone, rest[0], inst))
        if len(rest) == 1 and method == "DELETE":
            if not inst:
                return h.gerror(404, "The resource 'projects/%s/zones/%s/instances/%s' was not "
                                "found" % (st.args.project, zone, rest[0]), "notFound")
            if inst.get("group"):
                st.violation("instances.delete of %s, which its group manages" % rest[0])
            inst["state"] = "STOPPING"

            def done():
                with st.lock:
                    gone = st.instances.pop(key, None)
                if gone and gone.get("qemu"):
                    gone["qemu"].stop()
            return h.reply(200, self.ops.new(h, "delete", link(st, "zones/%s/instances/%s" % key),
                                             "zones/" + zone, done=done, rid=q.get("requestId")))
        if len(rest) == 2 and rest[1] == "serialPort" and method == "GET":
            if not inst:
                return h.gerror(404, "not found", "notFound")
            return self.serial_port(h, inst, q)
        st.violation("unexpected instances call %s %s" % (method, rest))
        h.gerror(400, "bad request", "invalid")

    def insert(self, h, zone, q, body):
        st = self.st
        st.counters["instance_inserts"] += 1
        rid = q.get("requestId")
        if rid and rid in st.request_ids:
            return h.reply(200, st.request_ids[rid])
        try:
            inst = json.loads(body)
        except ValueError:
            st.violation("instances.insert body is not JSON")
            return h.gerror(400, "Invalid JSON payload received.", "parseError")
        name = inst.get("name", "")
        if not NAME_RE.match(name):
            return h.gerror(400, "Invalid value for field 'resource.name': '%s'" % name, "invalid")
        if inst.get("machineType", "").split("/")[:3] != ["zones", zone, "machineTypes"]:
            st.violation("machineType %r" % inst.get("machineType"))
            return h.gerror(400, "Invalid value for field 'resource.machineType'", "invalid")
        boots = [d for d in inst.get("disks", []) if d.get("boot")]
        if len(boots) != 1:
            return h.gerror(400, "Exactly one boot disk must be given", "invalid")
        src = boots[0].get("initializeParams", {}).get("sourceImage", "")
        image = self.image_of(src)
        if not image:
            return h.gerror(404, "The resource '%s' was not found" % src, "notFound")
        with st.lock:
            if (zone, name) in st.instances:
                return h.gerror(409, "The resource 'projects/%s/zones/%s/instances/%s' already "
                                "exists" % (st.args.project, zone, name), "alreadyExists")
            rec = {"image": image, "state": "PROVISIONING", "created": time.time(), "reads": 0}
            quota = self.quota_hit()
            if not quota:
                st.instances[(zone, name)] = rec

        def done():
            if quota:
                return {"code": "QUOTA_EXCEEDED", "message": QUOTA_MESSAGE % region_of(zone)}
            if self.args.instance_boot == "qemu":
                rec["qemu"] = Qemu(self.image_data.get(image))
            return None
        op = self.ops.new(h, "insert", link(st, "zones/%s/instances/%s" % (zone, name)),
                          "zones/" + zone, done=done)
        if rid:
            st.request_ids[rid] = op
        h.reply(200, op)

    def state_of(self, inst):
        """The instance's status now (single instances)."""
        if inst.get("group"):
            return inst["state"]
        if inst["state"] == "STOPPING" or inst["state"] == "TERMINATED":
            return inst["state"]
        qemu = inst.get("qemu")
        if qemu is None:
            return "RUNNING" if self.args.instance_boot != "qemu" else "STAGING"
        if not qemu.running():
            inst["state"] = "TERMINATED"
            return "TERMINATED"
        return "RUNNING"

    def instance_json(self, zone, name, inst):
        st = self.st
        out = {"kind": "compute#instance", "name": name, "status": self.state_of(inst),
               "zone": link(st, "zones/" + zone),
               "selfLink": link(st, "zones/%s/instances/%s" % (zone, name)),
               "disks": [{"boot": True, "source": link(st, "zones/%s/disks/%s" % (zone, name))}]}
        if inst.get("group"):
            out["metadata"] = {"items": [
                {"key": "instance-template",
                 "value": "projects/%s/global/instanceTemplates/%s" % (st.args.project,
                                                                       inst["template"])},
                {"key": "created-by", "value": inst["group_path"]}]}
        return out

    def serial_port(self, h, inst, q):
        state = self.state_of(inst)
        try:
            start = int(q.get("start", "0"))
        except ValueError:
            return h.gerror(400, "Invalid value for field 'start'", "invalid")
        if q.get("port", "1") != "1":
            self.st.violation("serial port %r" % q.get("port"))
        if inst.get("group"):
            # The fault stands for an instance that autohealing began to recreate between the
            # client's listing and this read.
            if state != "RUNNING" or self.st.fault("serial_not_ready"):
                return h.gerror(400, "The resource is not ready", "resourceNotReady")
            text = self.group_serial(inst["image"])[1].encode()
        elif self.args.instance_boot == "qemu":
            if not inst.get("qemu"):
                return h.gerror(400, "The resource is not ready", "resourceNotReady")
            text = inst["qemu"].output()
        else:
            inst["reads"] += 1
            if inst["reads"] == 1:
                return h.gerror(400, "The resource is not ready", "resourceNotReady")
            text = self.fixed_serial().encode()
        # At most half of what there is per read, so the client has to follow "next".
        end = min(len(text), start + max(1, len(text) // 2))
        if self.st.fault("serial_stuck"):
            # A broken server: the same bytes on every read, "next" never moving on.
            return h.reply(200, {"kind": "compute#serialPortOutput",
                                 "contents": text[start:end].decode(errors="replace"),
                                 "start": str(start), "next": str(start)})
        return h.reply(200, {"kind": "compute#serialPortOutput",
                             "contents": text[start:end].decode(errors="replace"),
                             "start": str(min(start, len(text))), "next": str(max(end, start))})

    def stop_all(self):
        with self.st.lock:
            for inst in self.st.instances.values():
                if inst.get("qemu"):
                    inst["qemu"].stop()

    # ---- images: keep each image's bytes so that it can be booted later ----
    def remember_image(self, body):
        try:
            img = json.loads(body)
            src = img.get("rawDisk", {}).get("source", "")
            copied = self.image_of(img.get("sourceImage") or "")
        except (ValueError, AttributeError):
            return
        if copied and copied in self.image_data and isinstance(img.get("name"), str):
            self.image_data[img["name"]] = self.image_data[copied]
            return
        m = re.match(r"^https://storage\.googleapis\.com/([^/]+)/(.+)$", src or "")
        if not m:
            return
        obj = self.st.objects.get((m.group(1), urllib.parse.unquote(m.group(2))))
        if obj and isinstance(img.get("name"), str):
            self.image_data[img["name"]] = bytes(obj["data"])


def new_instance_name(st, base):
    while True:
        name = "%s-%s" % (base, "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789")
                                        for _ in range(4)))
        if not any(k[1] == name for k in st.instances):
            return name


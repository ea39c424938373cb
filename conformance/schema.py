"""Hand-written checks of the state and features documents against the rules of
schema/state-schema.json and schema/features-schema.json (runtime-spec v1.3.0).
Each function returns a list of problems, empty when the document conforms."""
import re

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$")
STATUSES = ("creating", "created", "running", "stopped")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def state(doc):
    p = []
    if not isinstance(doc, dict):
        return ["state is not an object"]
    for key in ("ociVersion", "id", "status", "bundle"):
        if key not in doc:
            p.append(f"{key}: required")
        elif not isinstance(doc[key], str):
            p.append(f"{key}: must be a string")
    # The schema lists the statuses as an enum; runtimes may add states only for new states.
    if isinstance(doc.get("status"), str) and doc["status"] not in STATUSES:
        p.append(f"status: {doc['status']!r} is not one of {STATUSES}")
    if "pid" in doc and not (_is_int(doc["pid"]) and doc["pid"] >= 0):
        p.append("pid: must be a non-negative integer")
    if doc.get("status") in ("created", "running") and "pid" not in doc:
        p.append("pid: required when status is created or running")
    if "annotations" in doc:
        a = doc["annotations"]
        if not isinstance(a, dict) or not all(isinstance(v, str) for v in a.values()):
            p.append("annotations: must be a map of strings")
    return p


def _str_list(doc, key, p):
    v = doc.get(key)
    if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
        p.append(f"{key}: must be an array of strings")


def features(doc):
    p = []
    if not isinstance(doc, dict):
        return ["features is not an object"]
    for key in ("ociVersionMin", "ociVersionMax"):
        if key not in doc:
            p.append(f"{key}: required")
        elif not isinstance(doc[key], str):
            p.append(f"{key}: must be a string")
    for key in ("hooks", "mountOptions"):
        _str_list(doc, key, p)
    known = {"ociVersionMin", "ociVersionMax", "hooks", "mountOptions", "linux", "annotations",
             "potentiallyUnsafeConfigAnnotations"}
    for key in doc:
        if key not in known:
            p.append(f"{key}: not a property of the features structure")
    a = doc.get("annotations")
    if a is not None and not (isinstance(a, dict) and all(isinstance(v, str) for v in a.values())):
        p.append("annotations: must be a map of strings")
    lx = doc.get("linux")
    if lx is not None:
        if not isinstance(lx, dict):
            p.append("linux: must be an object")
        else:
            for key in ("namespaces", "capabilities"):
                _str_list(lx, key, p)
            for key in ("cgroup", "seccomp", "apparmor", "selinux", "intelRdt", "mountExtensions",
                        "netDevices", "memoryPolicy"):
                if key in lx and not isinstance(lx[key], dict):
                    p.append(f"linux.{key}: must be an object")
    return p

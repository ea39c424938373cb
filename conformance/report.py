"""The table, the per-runtime summary lines and the JUnit file."""
import xml.etree.ElementTree as ET

from .core import FAIL, PASS, SKIP


def table(cases, runtimes, results, verbose=False):
    """Lines: a header, one row per case, details of non-passes, then the summaries."""
    names = [r.name for r in runtimes]
    width = max([len(c.name) for c in cases] + [4])
    cols = [max(len(n), 4) for n in names]
    lines = ["  ".join(["TEST".ljust(width)] + [n.ljust(w) for n, w in zip(names, cols)]).rstrip()]
    details = []
    for ci, c in enumerate(cases):
        row = [c.name.ljust(width)]
        for ri, w in enumerate(cols):
            o = results[(ci, ri)]
            row.append(o.status.ljust(w))
            if o.status != PASS or verbose:
                details.append(f"  {c.name} [{names[ri]}] {o.status}: {o.message}")
                if verbose:
                    details.extend("      " + ln for ln in o.log)
        lines.append("  ".join(row).rstrip())
    if details:
        lines.append("")
        lines.append("Reasons:")
        lines.extend(details)
    lines.append("")
    lines.extend(summary(cases, runtimes, results))
    return lines


def counts(cases, results, ri):
    n = {PASS: 0, FAIL: 0, SKIP: 0}
    for ci in range(len(cases)):
        n[results[(ci, ri)].status] += 1
    return n


def summary(cases, runtimes, results):
    out = []
    for ri, r in enumerate(runtimes):
        n = counts(cases, results, ri)
        out.append(f"{r.name}: {n[PASS]} passed, {n[FAIL]} failed, {n[SKIP]} skipped")
    return out


def junit(cases, runtimes, results, path):
    suites = ET.Element("testsuites", name="conformance")
    for ri, r in enumerate(runtimes):
        n = counts(cases, results, ri)
        s = ET.SubElement(suites, "testsuite", name=r.name, tests=str(len(cases)),
                          failures=str(n[FAIL]), skipped=str(n[SKIP]), errors="0")
        for ci, c in enumerate(cases):
            o = results[(ci, ri)]
            tc = ET.SubElement(s, "testcase", classname=f"{r.name}.{c.name.rsplit('.', 1)[0]}",
                               name=c.name, time=f"{o.seconds:.3f}")
            ET.SubElement(tc, "properties").append(
                ET.Element("property", name="spec", value=f"{c.spec_file}: {c.level}: {c.quote}"))
            if o.status == FAIL:
                f = ET.SubElement(tc, "failure", message=o.message)
                f.text = "\n".join(o.log)
            elif o.status == SKIP:
                ET.SubElement(tc, "skipped", message=o.message)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)

"""Small helpers shared by the case modules."""


def kv(text):
    """Parse "a=1 b=2" words (over all lines) into a dict."""
    out = {}
    for word in text.split():
        k, sep, v = word.partition("=")
        if sep:
            out[k] = v
    return out


def probe(ctx, bundle, *args):
    """Run /bin/probe ARGS as the container process; its parsed key=value output."""
    bundle.process["args"] = ["/bin/probe", *args]
    text = ctx.run_container(bundle)
    ctx.check(text.strip(), f"probe {' '.join(args)} printed nothing")
    return kv(text)


def sh(ctx, bundle, script):
    """Run ``sh -c script`` as the container process; its stdout."""
    bundle.process["args"] = ["sh", "-c", script]
    return ctx.run_container(bundle)

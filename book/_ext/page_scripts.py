"""Sphinx extension: each script once per page, and the live figures' files only where a page asks.

Jupyter Book 1 adds every *.js and *.css under _static to every page, so the locally served MathJax
(also added by sphinx.ext.mathjax) would load twice and throw in the browser. Keep the first of each
(same file or same body).
The live figures' files are loaded by the output cells that hold them: chapter 4's library, widgets
and model weights (_static/lib/, widgets/, models/: 5 MB of weights with the page, more on demand)
through the tags lib/aae-nn.js injects, chapter 1's in-page trainer (_static/train/, its digits and a
worker) through its own tags; so all of them are dropped from the lists every page gets.
"""

ON_REQUEST = ("lib/", "widgets/", "models/", "train/")  # _static folders: only pages whose HTML loads them


def on_request(filename: str) -> bool:
    # Sphinx names them by their path in the output ("_static/lib/...")
    return filename.split("?")[0].removeprefix("_static/").startswith(ON_REQUEST)


def keep_first_of_each(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "").split("?")[0] or script.attributes.get("body", "")
        if (key and key in seen) or on_request(key):
            continue
        seen.add(key)
        kept.append(script)
    context["script_files"] = kept
    context["css_files"] = [css for css in context.get("css_files", []) if not on_request(css.filename or "")]


def setup(app):
    app.connect("html-page-context", keep_first_of_each, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

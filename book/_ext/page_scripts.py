"""Sphinx extension: each script once per page, and the decoder's scripts only where a page asks.

Jupyter Book 1 adds every *.js under _static to every page, so the locally served MathJax (also
added by sphinx.ext.mathjax) would load twice and throw in the browser. Keep the first of each
(same file or same body).
The style explorer's decoder (_static/decoder/, 5 MB of weights) is loaded by chapter 4's own
output cell, and chapter 1's in-page trainer (_static/train/, its digits and a worker) by chapter 1's,
so both are dropped from the list every page gets.
"""

ON_REQUEST = ("decoder/", "train/")  # scripts under these _static folders: only pages whose HTML includes them


def keep_first_of_each(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "").split("?")[0] or script.attributes.get("body", "")
        # Sphinx names them by their path in the output ("_static/decoder/...")
        if (key and key in seen) or key.removeprefix("_static/").startswith(ON_REQUEST):
            continue
        seen.add(key)
        kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", keep_first_of_each, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

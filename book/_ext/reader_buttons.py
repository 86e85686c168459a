"""Sphinx extension: the page's header buttons do what a reader of the static book expects.

- The download menu saves the page's source (.ipynb, .md) under its own name. The theme links it
  with target="_blank", so a browser opens a notebook or a markdown file as text in a new tab;
  its link macro cannot add the `download` attribute, so a few lines of script add it on load.
- The repository button appears only when `repository: url:` in _config.yml names a repository
  (left empty, Jupyter Book would otherwise fill in its own).
"""

SAVE_SOURCES = """document.addEventListener("DOMContentLoaded", () => {
  for (const link of document.querySelectorAll("a.btn-download-source-button, a.btn-download-notebook-button")) {
    link.download = decodeURIComponent(link.pathname.split("/").pop());
    link.removeAttribute("target");
  }
});"""


def repository_button_when_configured(app, config):
    options = config.html_theme_options
    options["use_repository_button"] = bool(options.get("repository_url"))


def setup(app):
    app.connect("config-inited", repository_button_when_configured)
    app.add_js_file(None, body=SAVE_SOURCES)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

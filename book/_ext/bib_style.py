"""Sphinx extension: the references page lists each work under the label the text cites it by,
"Makhzani et al., 2015" rather than pybtex's "[MSJ+15]", sorted by author as pybtex's plain style."""
from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def author_year(entry) -> str:
    names = [" ".join(person.last_names) for person in entry.persons.get("author", [])]
    who = (names[0] if len(names) == 1 else " and ".join(names) if len(names) == 2
           else f"{names[0]} et al." if names else entry.fields.get("title", "?"))
    return f"{who}, {entry.fields.get('year', 'n.d.')}".replace("{", "").replace("}", "")


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            yield author_year(entry)


class AuthorYearStyle(PlainStyle):
    default_label_style = AuthorYearLabels


def setup(app):
    register_plugin("pybtex.style.formatting", "author_year_labels", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

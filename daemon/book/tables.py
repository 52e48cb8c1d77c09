"""Tables read aloud: row by row, each row a sentence that names its cells by the header
("Year 1881: Chests 134,064, Tons 9,000.").  A table that holds page layout (long prose
in its cells) is no data table and is read as the blocks it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from .markup import clean, local


@dataclass(frozen=True)
class TableRow:
    cells: tuple[str, ...]
    header: bool


def table_rows(table: etree._Element) -> list[TableRow]:
    """The table's own rows, in order; a table inside it has its own.  One walk that does
    not enter nested tables: looking up from every row of every nested table took time
    growing with the square of their nesting."""
    rows = []
    todo = [(child, False) for child in reversed(table)]  # (element, inside a <thead>), last first
    while todo:
        element, in_head = todo.pop()
        name = local(element.tag)
        if name == "table":
            continue
        in_head = in_head or name == "thead"
        if isinstance(element.tag, str) and element.tag.rsplit("}", 1)[-1] == "tr":
            cells = [c for c in element if local(c.tag) in ("td", "th")]
            texts = tuple(clean("".join(c.itertext())) for c in cells)
            if any(texts):
                rows.append(TableRow(texts, in_head or all(local(c.tag) == "th" for c in cells)))
        todo.extend((child, in_head) for child in reversed(element))
    return rows


def is_layout_table(rows: list[TableRow]) -> bool:
    """A table holding page layout (long prose in its cells), not data."""
    return any(len(cell) > 150 for row in rows for cell in row.cells)


def spoken_row(cells: tuple[str, ...], header: tuple[str, ...] | None) -> str:
    """One row as a sentence: 'Year 1881: Chests 134,064, Tons 9,000.'"""
    filled = [(i, c) for i, c in enumerate(cells) if c]
    if header is None:
        return ", ".join(c for _, c in filled) + "."
    def named(i: int, cell: str) -> str:
        name = header[i] if i < len(header) else ""
        return f"{name} {cell}".strip()
    first, rest = filled[0], filled[1:]
    spoken = named(*first)
    if rest:
        spoken += ": " + ", ".join(named(i, c) for i, c in rest)
    return spoken + "."

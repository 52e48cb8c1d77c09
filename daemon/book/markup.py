"""Reading XML and XHTML safely, and the small helpers and vocabulary every reader of
book markup needs.

Every XML file of a book goes through ``parse_xml``, which refuses entity
declarations (external entities, "billion laughs") and markup nested deeper
than ``MAX_DEPTH``, and never loads a DTD or touches the network.
"""

from __future__ import annotations

import html.entities
import re

from lxml import etree

from daemon.errors import NotAnEpub, UnsafeEpub

# How deep a document may nest its markup.  The deepest document in the corpus nests 12
# levels; libxml2 stops at 256 unless told otherwise (its "huge tree" option), and span soup
# from converters goes past that: 300 nested <span>s cost a chapter its text after them.
# 1,000 is far beyond any book, and the readers of a tree never recurse, so a document
# within it is read whole; one beyond it (libxml2 itself stops at 2,048 even then) is
# refused with a sentence rather than cut short in silence.
MAX_DEPTH = 1_000

# XHTML elements whose content is never read aloud, and those that end a paragraph: the
# text walk (text.py) and the notes (notes.py) read a page by the same vocabulary.
SILENT_TAGS = {"head", "script", "style", "rt", "rp", "img", "math", "audio", "video", "object",
               "iframe", "template", "button", "input", "select", "textarea"}
BLOCK_TAGS = {
    "p", "div", "section", "article", "aside", "blockquote", "li", "ul", "ol", "dl",
    "dt", "dd", "caption", "figure", "figcaption", "header", "footer", "main", "nav",
    "hr", "br", "body", "address", "h1", "h2", "h3", "h4", "h5", "h6", "hgroup",
    "details", "summary", "tr", "td", "th",
}

_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
_NAMED_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_SPACE = re.compile(r"[\s\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")


def parse_xml(data: bytes, name: str) -> etree._Element:
    """Parse XML safely: no entity declarations, no DTD or network access.

    HTML named entities (``&nbsp;``), which XHTML 1.1 books use without their
    DTD, are turned into character references first.
    """
    text = _decode(data)
    if "<!ENTITY" in text:
        raise UnsafeEpub(
            f"refused: {name!r} declares XML entities, which books do not need and "
            "attacks use (entity expansion or reading files off the server)"
        )
    text = _XML_DECL.sub("", text, count=1)
    text = _NAMED_ENTITY.sub(_entity_to_reference, text)
    raw = text.encode("utf-8")
    for recover in (False, True):
        # huge_tree: deep nesting and long text nodes are read, not cut; the ZIP budget
        # (archive.py) bounds the document's size, MAX_DEPTH its depth
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True,
            recover=recover, encoding="utf-8", remove_comments=True, remove_pis=True,
        )
        try:
            root = etree.fromstring(raw, parser)
        except etree.XMLSyntaxError:
            _refuse_over_limits(parser.error_log, name)  # never recovered from: it would cut text
            continue
        _refuse_over_limits(parser.error_log, name)  # recovering may have cut the document there
        if root is not None:
            _refuse_too_deep(root, name)
            return root
    raise NotAnEpub(f"{name!r} is not readable XML")


def _refuse_over_limits(errors: etree._ListErrorLog, name: str) -> None:
    """A limit of libxml2's own was reached (it stops at 2,048 levels even with huge_tree)."""
    for error in errors:
        if error.type_name != "ERR_RESOURCE_LIMIT":
            continue
        if "depth" in error.message.lower():
            raise UnsafeEpub(_too_deep(name, "more than 2,048"))
        raise UnsafeEpub(f"refused: {name!r} goes beyond what the XML parser reads "
                         f"({error.message.strip()}); this is a broken or hostile file, not a book")


def _refuse_too_deep(root: etree._Element, name: str) -> None:
    depth = deepest = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
    if deepest > MAX_DEPTH:
        raise UnsafeEpub(_too_deep(name, f"{deepest:,}"))


def _too_deep(name: str, levels: str) -> str:
    return (f"refused: {name!r} nests its markup {levels} levels deep; a book nests a few dozen "
            f"(the reader goes to {MAX_DEPTH:,}), so this file is broken or made to stall the reader")


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        return data.decode("utf-16-le" if data[0] == 0x3C else "utf-16-be", errors="replace")
    declared = re.match(rb"\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)", data)
    encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        return data.decode(encoding, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _entity_to_reference(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _XML_ENTITIES:
        return match.group(0)
    codepoint = html.entities.name2codepoint.get(name)
    return f"&#{codepoint};" if codepoint else " "


def local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def types_of(element: etree._Element) -> set[str]:
    """epub:type and role tokens, without vocabulary prefixes."""
    value = " ".join(
        v for k, v in element.attrib.items()
        if local(k) in ("type", "role") and ("epub" in k or k == "role" or k.endswith("}type"))
    )
    return {token.rsplit(":", 1)[-1].lower() for token in value.split()}


def clean(text: str) -> str:
    return _SPACE.sub(" ", _INVISIBLE.sub("", text)).strip()

"""Reading XML and XHTML safely, and the small helpers every reader of book markup needs.

Every XML file of a book goes through ``parse_xml``, which refuses entity
declarations (external entities, "billion laughs") and never loads a DTD or
touches the network.
"""

from __future__ import annotations

import html.entities
import re

from lxml import etree

from .errors import NotAnEpub, UnsafeEpub

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
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
            recover=recover, encoding="utf-8", remove_comments=True, remove_pis=True,
        )
        try:
            root = etree.fromstring(raw, parser)
        except etree.XMLSyntaxError:
            continue
        if root is not None:
            return root
    raise NotAnEpub(f"{name!r} is not readable XML")


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

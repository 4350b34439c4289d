"""What each index field is, read from the Solr schema that ships with CKAN.

CKAN builds its search documents for ``ckan/config/solr/schema.xml``. Reading
that file (rather than copying its field list) keeps field types, stored
flags, dynamic fields and copy fields exactly as CKAN expects them.
"""

from __future__ import annotations

import enum
import fnmatch
import functools
import os
from dataclasses import dataclass

import ckan.config
from lxml import etree


class Kind(enum.Enum):
    STRING = "string"  # exact, case-sensitive terms
    TEXT = "text"  # tokenised, stemmed (English)
    TEXT_GENERAL = "text_general"  # tokenised, not stemmed
    NGRAM = "ngram"  # any part of the value (Solr's n-gram tokenizer): autocomplete
    DATE = "date"
    INT = "int"
    FLOAT = "float"
    BOOLEAN = "boolean"
    UNINDEXED = "unindexed"


_KIND_BY_CLASS = {
    "solr.StrField": Kind.STRING,
    "solr.BoolField": Kind.BOOLEAN,
    "solr.IntPointField": Kind.INT,
    "solr.LongPointField": Kind.INT,
    "solr.FloatPointField": Kind.FLOAT,
    "solr.DoublePointField": Kind.FLOAT,
    "solr.DatePointField": Kind.DATE,
}


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    stored: bool
    multi: bool


#: Tokenised kinds: matched word by word, not as whole values.
TEXT_KINDS = frozenset({Kind.TEXT, Kind.TEXT_GENERAL})

#: The catch-all field searched when a query names no field (Solr's ``df``).
TEXT_FIELD = "text"
#: Fields whose words rank highest in free text search, as in CKAN's ``qf``.
BOOST_A = ("name", "title")
BOOST_B = ("tags", "groups")


class Schema:
    def __init__(self, path: str) -> None:
        root = etree.parse(path, etree.XMLParser(resolve_entities=False)).getroot()
        kinds: dict[str, Kind] = {}
        #: Shortest and longest parts an n-gram field matches (CKAN's schema: 2 to 10).
        self.ngram = (2, 10)
        for ft in root.iter("fieldType"):
            cls = ft.get("class", "")
            grams = next((t for t in ft.iter("tokenizer") if "NGram" in t.get("class", "")), None)
            if cls == "solr.TextField" and grams is not None:
                kind = Kind.NGRAM
                self.ngram = (
                    int(grams.get("minGramSize", "1")),
                    int(grams.get("maxGramSize", "2")),
                )
            elif cls == "solr.TextField":
                kind = Kind.TEXT if ft.get("name") == "text" else Kind.TEXT_GENERAL
            else:
                kind = _KIND_BY_CLASS.get(cls, Kind.STRING)
            kinds[ft.get("name", "")] = kind
        multi_types = {
            ft.get("name") for ft in root.iter("fieldType") if ft.get("multiValued") == "true"
        }

        def make(el: etree._Element) -> Field:
            type_name = el.get("type", "string")
            kind = kinds.get(type_name, Kind.STRING)
            if el.get("indexed") == "false":
                kind = Kind.UNINDEXED
            return Field(
                name=el.get("name", ""),
                kind=kind,
                stored=el.get("stored", "true") == "true",
                multi=el.get("multiValued") == "true" or type_name in multi_types,
            )

        self.fields = {f.name: f for f in map(make, root.iter("field"))}
        self.dynamic = [make(el) for el in root.iter("dynamicField")]
        self.unique_key = (root.findtext("uniqueKey") or "index_id").strip()
        self.copy: dict[str, list[str]] = {}
        for el in root.iter("copyField"):
            self.copy.setdefault(el.get("dest", ""), []).append(el.get("source", ""))
        # Solr does not chain copy fields: a value copied into "urls" is not
        # copied on into "text".
        self.text_sources = tuple(self.copy.get(TEXT_FIELD, []))

    @functools.lru_cache(maxsize=4096)
    def field(self, name: str) -> Field:
        if name in self.fields:
            return self.fields[name]
        # Solr picks the longest matching dynamic pattern; the schema lists
        # them from most to least specific, ending with "*".
        for dyn in sorted(self.dynamic, key=lambda d: -len(d.name)):
            if fnmatch.fnmatchcase(name, dyn.name):
                return Field(name, dyn.kind, dyn.stored, dyn.multi)
        return Field(name, Kind.STRING, False, True)

    @functools.lru_cache(maxsize=4096)
    def copies_into_text(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.text_sources)

    @functools.lru_cache(maxsize=4096)
    def copy_targets(self, name: str) -> tuple[str, ...]:
        """Fields other than "text" that receive a copy of this field's values."""
        return tuple(
            dest
            for dest, sources in self.copy.items()
            if dest != TEXT_FIELD and any(fnmatch.fnmatchcase(name, src) for src in sources)
        )


@functools.lru_cache(maxsize=1)
def ckan_schema() -> Schema:
    path = os.path.join(os.path.dirname(ckan.config.__file__), "solr", "schema.xml")
    return Schema(path)

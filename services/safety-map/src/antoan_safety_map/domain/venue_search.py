"""Finding a venue by its name or address, as a person types it: with or without Vietnamese diacritics, by
the start of each word ("ca phe ham" finds "Cà phê Hàm Rồng"), every typed word required.

An inverted index of folded words: a sorted list of the distinct words (a typed word is a prefix range of it,
found by bisection) and, for each word, the venues that use it. A query costs the size of the postings it
touches, not the number of venues; adding or removing a venue costs its own words.
"""

from __future__ import annotations

import bisect
import heapq
import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_WORDS = 8
_WORD = re.compile(r"[0-9a-z]+")


def fold(text: str) -> str:
    """Lower case without diacritics: "Đường Lê Lợi" → "duong le loi"."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


@dataclass(frozen=True)
class Entry:
    name: str
    name_words: frozenset[str]
    all_words: frozenset[str]


class SearchIndex:
    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._postings: dict[str, set[str]] = {}
        self._sorted_words: list[str] = []

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, venue_id: str, name: str, address: str) -> None:
        """Adds the venue, or re-indexes it under its current name and address."""
        name_words = frozenset(words(name))
        entry = Entry(fold(name), name_words, name_words | frozenset(words(address)))
        if self._entries.get(venue_id) == entry:
            return
        self.remove(venue_id)
        self._entries[venue_id] = entry
        for word in entry.all_words:
            posting = self._postings.get(word)
            if posting is None:
                posting = self._postings[word] = set()
                bisect.insort(self._sorted_words, word)
            posting.add(venue_id)

    def remove(self, venue_id: str) -> None:
        entry = self._entries.pop(venue_id, None)
        if entry is None:
            return
        for word in entry.all_words:
            posting = self._postings[word]
            posting.discard(venue_id)
            if not posting:
                del self._postings[word]
                del self._sorted_words[bisect.bisect_left(self._sorted_words, word)]

    def _starting_with(self, prefix: str) -> set[str]:
        """The venues with a word that starts with `prefix`."""
        start = bisect.bisect_left(self._sorted_words, prefix)
        end = bisect.bisect_left(self._sorted_words, prefix + "\x7f")
        if end - start == 1:
            return self._postings[self._sorted_words[start]]
        found: set[str] = set()
        for word in self._sorted_words[start:end]:
            found |= self._postings[word]
        return found

    def search(self, query: str, limit: int) -> tuple[list[str], bool]:
        """The best `limit` venues for the query, and whether there were more. Best: every typed word starts a
        word of the name (not only of the address), then the name starting with the query, then the shorter
        name, then alphabetical."""
        typed = words(query)[:MAX_QUERY_WORDS]
        if not typed:
            return [], False
        # The narrowest word first: the intersection never grows beyond its postings.
        candidates: set[str] | None = None
        for prefix in sorted(typed, key=len, reverse=True):
            matching = self._starting_with(prefix)
            candidates = set(matching) if candidates is None else candidates & matching
            if not candidates:
                return [], False
        assert candidates is not None
        folded_query = " ".join(typed)

        def rank(venue_id: str) -> tuple[bool, bool, int, str]:
            entry = self._entries[venue_id]
            in_name = all(any(w.startswith(p) for w in entry.name_words) for p in typed)
            return (not in_name, not entry.name.startswith(folded_query), len(entry.name), entry.name)

        return heapq.nsmallest(limit, candidates, key=rank), len(candidates) > limit

"""Chinese-aware text: the one segmenting function every backend shares.

Chinese has no spaces between words, so each backend indexes and queries the words jieba
finds, joined by spaces: FTS5 and PostgreSQL's ``simple`` configuration then see words
such as 农场, 扶手 or 电饭煲 as whole tokens, and Elasticsearch's whitespace-split field
sees the very same ones. jieba ships its dictionary inside the package (no network); it is
loaded once, on the first call, and told not to chat on the log.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from typing import Any

# A token is a run of letters or digits (``\w`` minus the underscore): whatever else jieba
# returns (punctuation, spaces, symbols) is dropped, so every engine's own tokenizer
# leaves our tokens whole.
_WORD = re.compile(r"[^\W_]+")
_lock = threading.Lock()
_tokenizer: Any = None


def _jieba() -> Any:
    """The jieba tokenizer, loaded on first use (half a second) and then shared."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                import jieba

                # jieba logs "Building prefix dict..." at DEBUG on a handler of its own.
                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()  # the dictionary shipped with the package
                tokenizer.initialize()
                _tokenizer = tokenizer
    return _tokenizer


def segment(text: str, *, for_index: bool = False) -> list[str]:
    """The words of ``text``, lowercased, in order, without punctuation.

    Queries are cut into the longest dictionary words (电饭煲坏了 → 电饭煲, 坏, 了); the
    index also keeps the shorter words inside long ones (jieba's search mode: 电饭煲 →
    饭煲, 电饭煲), so a query for a part still finds the whole. jieba's guessing of unknown
    words (its HMM) is off: the same characters then always split the same way, in a
    document and in a query.
    """
    if not text or not text.strip():
        return []
    return list(_segment(text, for_index))


def words_text(text: str, *, for_index: bool = False) -> str:
    """``segment`` joined by spaces: what the engines store and match."""
    return " ".join(segment(text, for_index=for_index))


@lru_cache(maxsize=65_536)  # titles and items repeat a lot (电饭煲, 书包, 春耕)
def _segment(text: str, for_index: bool) -> tuple[str, ...]:
    tokenizer = _jieba()
    pieces = (
        tokenizer.cut_for_search(text, HMM=False) if for_index else tokenizer.cut(text, HMM=False)
    )
    words: list[str] = []
    for piece in pieces:
        words.extend(_WORD.findall(piece.lower()))
    return tuple(words)

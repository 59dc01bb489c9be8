"""Plain text shared by the channels: long texts cut into pieces a platform accepts."""

from __future__ import annotations

from collections.abc import Iterator


def split_text(text: str, limit: int) -> Iterator[str]:
    """Pieces of at most ``limit`` UTF-8 bytes, cut between paragraphs, then lines, then words."""
    if len(text.encode()) <= limit:
        yield text
        return
    for separator in ("\n\n", "\n", " "):
        if separator in text:
            piece = ""
            for part in text.split(separator):
                candidate = part if not piece else piece + separator + part
                if len(candidate.encode()) <= limit:
                    piece = candidate
                    continue
                if piece:
                    yield from split_text(piece, limit)
                piece = part
            if piece:
                yield from split_text(piece, limit)
            return
    # One unbroken run of characters: cut on character boundaries.
    piece = ""
    for character in text:
        if len((piece + character).encode()) > limit:
            yield piece
            piece = ""
        piece += character
    if piece:
        yield piece

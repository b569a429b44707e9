#!/usr/bin/env python3
"""Checks the repository's Markdown links: every relative link names a file that exists,
and every #anchor names a heading of its target (GitHub's slug rules). Also fails on a
link or a mention of a path outside the repository (`../shared`, `/work/`, `DESIGN.md`).

Python 3 standard library only. Run from anywhere:  python3 tests/doc_links.py
Exit 0 when every link resolves; 1 with one line per broken link otherwise.
"""

import re
import sys
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"(?<!\!)\[(?:[^\]`]|`[^`]*`)*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
OUTSIDE = re.compile(r"\.\./shared|/work/|DESIGN\.md")


def markdown_files():
    """Every Markdown file of the checkout, but the build output and git's own (no git
    needed: CI machines may not have it)."""
    skip = {"target", ".git"}
    return sorted(p for p in ROOT.rglob("*.md")
                  if p.is_file() and not skip & set(p.relative_to(ROOT).parts))


def prose_lines(text):
    """Lines outside fenced code blocks, with their numbers."""
    fence = None
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        marker = stripped[:3]
        if marker in ("```", "~~~"):
            if fence is None:
                fence = marker
            elif marker == fence:
                fence = None
            continue
        if fence is None:
            yield n, line


def slug(heading):
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


_anchors = {}


def anchors(path):
    if path not in _anchors:
        seen = {}
        found = set()
        for _, line in prose_lines(path.read_text(encoding="utf-8")):
            m = HEADING.match(line)
            if not m:
                continue
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
        _anchors[path] = found
    return _anchors[path]


def main():
    problems = []
    for md in markdown_files():
        rel = md.relative_to(ROOT)
        text = md.read_text(encoding="utf-8")
        for n, line in prose_lines(text):
            if OUTSIDE.search(line):
                problems.append(f"{rel}:{n}: refers to a path outside the repository: {line.strip()}")
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue  # http:, https:, mailto:
                path_part, _, anchor = target.partition("#")
                dest = (md.parent / unquote(path_part)).resolve() if path_part else md
                if not dest.exists():
                    problems.append(f"{rel}:{n}: {target}: no such file")
                    continue
                try:
                    dest.relative_to(ROOT)
                except ValueError:
                    problems.append(f"{rel}:{n}: {target}: outside the repository")
                    continue
                if anchor:
                    if dest.is_dir() or dest.suffix != ".md":
                        problems.append(f"{rel}:{n}: {target}: anchor on a non-Markdown target")
                    elif anchor not in anchors(dest):
                        problems.append(f"{rel}:{n}: {target}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    for p in problems:
        print(p)
    print(f"{len(problems)} broken link(s)" if problems else "all Markdown links resolve")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Which tables and indexes a drain wrote, page by page, from the WAL it kept.

Usage:
    target/release/pacer bench --scenario drain --providers 1000 --keep-wal /tmp/wal
    scripts/wal-pages.py /tmp/wal

With background checkpoints off, the WAL holds every page image each commit wrote, in
order. A commit writes each page it dirtied whole (4 KB here), so frames per call is the cost
the embedded backend's single writer pays per call, and the table or index owning those
frames is what to cut. Pages are freed and reused as queue messages come and go, so the
owner of a page number is not fixed: each frame is attributed by its own content (the
column types of its first cell), matched against the embedded schema below. Interior
pages of rowid tables hold no row data and are listed as `table interior`.
"""

import collections
import json
import re
import struct
import sys
from pathlib import Path

WAL_HEADER = 32

# (page kind, regex over the first cell's column types) -> name. Column types: t text,
# i integer, n null (a rowid alias is stored as null), f real, b blob. Kinds: T table
# b-tree leaf, I index b-tree (indexes and WITHOUT ROWID tables, leaves and interiors).
PATTERNS = [
    ("T", r"tttt[in]ii[nt]ii[in][nt]", "records"),
    ("T", r"ntiit", "attempts"),
    ("T", r"ntiiti", "results"),
    ("T", r"ntit", "feed"),
    ("T", r"nt[nt]tiii[nt]", "queue_messages"),
    ("T", r"ti", "sqlite_sequence"),
    ("T", r"t[nt]ii[in]t", "leases"),
    ("T", r"tt", "providers"),
    # history_by_record has the same shape; a drain writes no history.
    ("I", r"tii", "attempts_by_record (index)"),
    ("I", r"ii", "records_stale or records_due (index)"),
    ("I", r"titi", "records_pending_v2 (index)"),
    ("I", r"ttii", "queue_fifo_by_group (index)"),
    ("I", r"tiii", "queue_standard_by_visibility (index)"),
    ("I", r"ttiiii", "queue_groups (table)"),
    ("I", r"tti", "queue_dedup (table)"),
    ("I", r"tit", "queue_groups_by_head (index)"),
]


def varint(b, i):
    v = 0
    for k in range(9):
        c = b[i + k]
        if k == 8:
            return (v << 8) | c, i + 9
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            return v, i + k + 1
    raise ValueError("varint")


def column_type(serial):
    if serial == 0:
        return "n"
    if serial in (1, 2, 3, 4, 5, 6, 8, 9):
        return "i"
    if serial == 7:
        return "f"
    if serial >= 12:
        return "b" if serial % 2 == 0 else "t"
    return "?"


def first_cell(page_no, page):
    """(kind, column types) of the page's first cell."""
    base = 100 if page_no == 1 else 0
    kind = page[base]
    cells = struct.unpack(">H", page[base + 3 : base + 5])[0]
    if kind == 5:
        return "table interior", ""
    if kind not in (2, 10, 13):
        return "free or overflow", ""
    letter = "T" if kind == 13 else "I"
    if cells == 0:
        return letter, ""
    header = 8 if kind in (10, 13) else 12
    i = struct.unpack(">H", page[base + header : base + header + 2])[0]
    if kind == 2:
        i += 4  # left child pointer
    _, i = varint(page, i)  # payload size
    if kind == 13:
        _, i = varint(page, i)  # rowid
    header_len, j = varint(page, i)
    types = []
    while j < i + header_len:
        serial, j = varint(page, j)
        types.append(column_type(serial))
    return letter, "".join(types)


def name_of(kind, types):
    if kind in ("table interior", "free or overflow"):
        return kind
    if kind == "I" and types == "ti":
        return "an autoindex on a text key"
    for k, pattern, name in PATTERNS:
        if k == kind and re.fullmatch(pattern, types):
            return name
    return f"unknown {kind}:{types or 'empty'}"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    kept = Path(sys.argv[1])
    run = json.loads((kept / "run.json").read_text())
    wal = kept / "bench-drain.db-wal"
    calls = run["calls"] or 1
    frames, commits = collections.Counter(), 0
    with wal.open("rb") as f:
        page_size = struct.unpack(">I", f.read(WAL_HEADER)[8:12])[0]
        frame = 24 + page_size
        start = max(WAL_HEADER, run["wal_offset_at_start"])
        f.seek(WAL_HEADER + (start - WAL_HEADER) // frame * frame)
        while True:
            head = f.read(24)
            page = f.read(page_size)
            if len(page) < page_size:
                break
            page_no, db_size = struct.unpack(">II", head[:8])
            commits += db_size != 0
            try:
                frames[name_of(*first_cell(page_no, page))] += 1
            except (ValueError, IndexError, struct.error):
                frames["unreadable"] += 1
    total = sum(frames.values())
    print(f"{total} frames ({total * page_size / 1e6:.0f} MB of pages) in {commits} commits for {calls} calls:")
    print(f"{total / calls:.2f} page writes per call, {total / max(commits, 1):.1f} per commit\n")
    print(f"{'written pages of':44} {'frames':>9} {'per call':>9}")
    for name, n in frames.most_common():
        print(f"{name:44} {n:9d} {n / calls:9.3f}")


if __name__ == "__main__":
    main()

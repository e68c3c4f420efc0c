/*
Package wal is the write-ahead log of a bucket: an append-only sequence of
byte payloads ("entries"), each with an index, made durable before the
engine applies them and dropped from the front once they are committed to
Lance. It knows bytes, not records.

# Indexes

Entries are numbered 1, 2, 3, ... in write order. An index is stable for the
life of the directory: reopening gives every entry the index it was written
with, and no index is ever given twice, not even after TruncateFront has
dropped every entry (the next entry gets LastIndex()+1). TruncateFront past
LastIndex()+1 moves the next index forward, never back. So the engine can
store "the last index contained in Lance version N" as a watermark and
replay only the entries after it.

# Durability

With SyncEveryWrite (the default) Write returns once the entry is fsynced.
Writers that arrive while an fsync runs share the next one (group commit),
so concurrent writers cost about one fsync per fsync duration, not one
each. Write is Append (write the entries, in order) followed by Commit
(wait until they are durable); a caller that orders entries under a lock
of its own (the engine's bucket lock) calls Append under it and Commit
after releasing it, so that its writers, too, share fsyncs.
With SyncInterval(d) Write returns once the entry is in the operating
system's page cache and a background goroutine fsyncs at least every d.
The entry gets there without a system call: it is copied into the
memory-mapped staging file (MAP_SHARED, so its pages are the file's and
outlive a killed process), and the staged entries move to the segments in
one write at each sync tick, just before its fsync, and whenever the
staging file is full or something reads, truncates or closes the log. Open
moves what a killed process left staged. If a move fails (a full disk),
the entries stay staged, the next tick retries, and an Append that needs
room in the staging file fails and stages nothing.
After a failed fsync the log refuses writes until reopened: what reached
the disk is then unknown, and Open finds out.

A failed write (ENOSPC, EIO, a file system remounted read-only ...)
returns an error and writes nothing: the partial entry it may have left is
cut off and the log stays usable. If even that fails, the log refuses
writes until reopened, and Open cuts the partial entry as a torn tail. So
no entry ever follows a partial one.

# On-disk format

The log is a directory of segment files, kept by github.com/tidwall/wal
v1.2.1 in its binary format. A segment file is named by the index of its
first entry as 20 decimal digits, zero padded ("00000000000000000001"),
and holds consecutive entries; the next segment starts with the index after
the last entry of the one before, without gaps or overlaps. A segment is
full once it reaches Options.SegmentSize bytes (the entry that crosses the
size stays in it) and is fsynced before the next one is created. An empty
log is one empty segment file named by the next index. While truncating,
tidwall/wal briefly writes files named "<20 digits>.START" (and
".START.TEMP"); opening finishes or discards such a truncation.

tidwall/wal keeps the whole tail segment in memory and copies every entry
twice on the way (its batch buffer, that segment). A write of at least
SegmentSize bytes is therefore made by this package itself, with
tidwall/wal closed meanwhile: the same bytes by the same rule, straight
from the caller's payloads (AppendParts takes one in parts, such as a
header and a value, without joining them). An entry that fills a segment
ends it, so tidwall/wal, opened again on the last segment, never holds
one.

The staging file, StagingName ("staged-entries", StagingSize bytes,
allocated when the log opens so that a full disk fails Open, not a later
copy), holds a header, the magic "PSTSTAGE" and a uint64le epoch, then
from offset 64 one record per staged entry: uint32le frame length,
uint32le CRC-32C of (epoch, index, frame length, frame), uint64le epoch,
uint64le index, and the frame (the entry below without its uvarint
prefix). Open takes the records of the header's epoch whose indexes
continue the segments (last+1, last+2, ...; lower ones had been moved
already) and stops at the first other: another epoch is the end (each
reset picks a new random epoch, so stale bytes never replay); a bad
checksum or a gap is an append cut short by a crash, dropped with a
warning.

An entry in a segment file is:

	uvarint   L      length of the rest of the entry (tidwall/wal's framing)
	byte      0x01   format of the entry (version 1)
	uint32le  n      payload length, n = L - 9
	uint32le  crc    CRC-32C (Castagnoli polynomial) of the payload
	[n]byte          payload

The format byte, the two lengths agreeing and the checksum together detect
a torn or corrupt entry; tidwall/wal itself checks nothing beyond its
length prefix. A payload is at most MaxPayloadSize bytes.

# Damage and repair

Open reads and checks every entry of every segment (so it costs one read of
the log; Options.SegmentSize bounds the memory it takes). Damage is told
apart by what follows it:

  - A torn tail: an entry of the last segment fails its checks and no valid
    entry starts at any byte offset after it. This is what a crash in the
    middle of a write leaves (the entry was never acknowledged). Open
    truncates the segment at the damaged entry, fsyncs it, logs a warning
    naming the file, the offset and the number of bytes cut, and recovers
    every entry before it.
  - Anything else: an entry that fails its checks followed by a valid one,
    a damaged entry in a segment other than the last, or a segment missing
    from the sequence. Open fails with a *CorruptError (errors.Is(err,
    ErrCorrupt)) naming the segment file, the byte offset and the index.
    Nothing is changed on disk. OpenReadOnly opens the same directory
    without changing it: its log ends just before the damage, and ReadFrom
    gives every entry before it and then returns the *CorruptError.

A payload can itself contain bytes that form a valid entry; then a torn
tail inside it is reported as a *CorruptError instead of being cut, which
errs on the safe side. Entries returned are always ones written, at the
index they were written with.

# Concurrency

A Log is safe for concurrent use. Writes, truncations and reads of entries
are serialized internally. An fsync blocks none of them: it goes through a
handle of its own on the last segment, so writers arriving during an fsync
append at once and share the next one. ReadFrom reads up to the LastIndex
at the time of the call and holds no lock while it calls fn, so fn may
write to the log.
*/
package wal

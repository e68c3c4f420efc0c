#!/usr/bin/env python3
"""Writes cases.json: marshal.dumps(value, 4) of each value with its expected
decoding in a canonical text form that decode_test.go renders too, plus
inputs that must be refused. Run from anywhere: python3 pymarshal/testdata/gen.py

Canonical form: N, T, F, E (Ellipsis), i:<decimal> (within int64),
L:<decimal> (beyond int64), f:<16 hex digits of the IEEE bits>, s:<hex of the
UTF-8>, u:<hex of marshal's bytes> (a str that is not valid UTF-8: a lone
surrogate), b:<hex>, [a,b], (a,b), {k:v,k:v}.

Good cases are written at marshal version 4; those named *_v2 and *_v3 at
that version (the engine accepts versions 2 to 4)."""
import json
import marshal
import math
import os
import struct
import sys


def canon(v):
    if v is None:
        return "N"
    if v is True:
        return "T"
    if v is False:
        return "F"
    if v is Ellipsis:
        return "E"
    if isinstance(v, int):
        return f"i:{v}" if -(2**63) <= v < 2**63 else f"L:{v}"
    if isinstance(v, float):
        return "f:" + struct.pack(">d", v).hex()
    if isinstance(v, str):
        try:
            return "s:" + v.encode("utf-8").hex()
        except UnicodeEncodeError:
            return "u:" + v.encode("utf-8", "surrogatepass").hex()
    if isinstance(v, (bytes, bytearray)):
        return "b:" + bytes(v).hex()
    if isinstance(v, list):
        return "[" + ",".join(canon(x) for x in v) + "]"
    if isinstance(v, tuple):
        return "(" + ",".join(canon(x) for x in v) + ")"
    if isinstance(v, dict):
        return "{" + ",".join(canon(k) + ":" + canon(x) for k, x in v.items()) + "}"
    raise TypeError(type(v))


shared_list = [1, 2]
shared_dict = {"k": "v"}
dyn = "dyn" + str(len(sys.argv))  # not interned: marshal numbers it only when shared
record = {"id": 7, "name": "alice", "score": 0.5, "ok": True, "blob": b"\x00\xff", "tags": None}

GOOD = {
    "none": None,
    "true": True,
    "false": False,
    "int_zero": 0,
    "int_small": 1,
    "int_negative": -1,
    "int32_max": 2**31 - 1,
    "int32_min": -(2**31),
    "long_2_31": 2**31,
    "long_minus_2_31_minus_1": -(2**31) - 1,
    "long_2_45": 2**45,
    "int64_max": 2**63 - 1,
    "int64_min": -(2**63),
    "float": 1.5,
    "float_negative_zero": -0.0,
    "float_inf": math.inf,
    "float_nan": math.nan,
    "float_tiny": 5e-324,
    "str_empty": "",
    "str_short_ascii": "abc",
    "str_long_ascii": "x" * 300,
    "str_unicode": "héllo ☃ 𝄞",
    "str_interned_key": {"a": 1},
    "bytes_empty": b"",
    "bytes": b"\x00\x01\xfe\xff",
    "bytearray": bytearray(b"ab"),
    "list_empty": [],
    "list": [1, "two", 3.0, None],
    "tuple_small": (1, 2),
    "tuple_empty": (),
    "tuple_large": tuple(range(300)),
    "dict_empty": {},
    "record": record,
    "records": [record, dict(record, id=8)],
    "nested": {"s": {"x": [1, {"y": (b"z",)}]}, "l": [[1], [], [2, 3]]},
    "shared_list": {"a": shared_list, "b": shared_list},
    "shared_dict": [shared_dict, shared_dict, {"k": shared_dict}],
    "shared_str": [dyn, dyn, {dyn: dyn}],
    "shared_int": [1000000, 1000000],
    "shared_float": [record["score"], record["score"]],
    "shared_long": [2**40, 2**40],
    "ellipsis": ...,
    "tagged": (..., "timestamp", 1767323045123456),
    "int_2_63": 2**63,
    "int_minus_2_63_minus_1": -(2**63) - 1,
    "int_2_64": 2**64,
    "int_2_100": 2**100,
    "int_minus_2_100": -(2**100),
    "lone_surrogate": "\ud800",
    "surrogate_key": {"a\udc80": 1},
    "record_v2": record,
    "records_v3": [record, dict(record, id=8)],
    "nested_v2": {"s": {"x": [1, {"y": (b"z",)}]}, "l": [[1], [], [2, 3]]},
    "shared_str_v3": [dyn, dyn, {dyn: dyn}],
}

BAD = {  # name -> (bytes, error kind)
    "empty": (b"", "truncated"),
    "set": (marshal.dumps({1}, 4), "unsupported"),
    "frozenset": (marshal.dumps(frozenset({1}), 4), "unsupported"),
    "complex": (marshal.dumps(1j, 4), "unsupported"),
    "stopiteration": (marshal.dumps(StopIteration, 4), "unsupported"),
    "text_float_v1": (marshal.dumps(1.5, 1), "unsupported"),
    "code": (marshal.dumps(compile("1", "x", "eval"), 4), "unsupported"),
    "unknown_code": (b"\x01", "invalid"),
    "null_alone": (b"0", "invalid"),
    "trailing_bytes": (marshal.dumps(1, 4) + b"N", "invalid"),
    "negative_size": (b"s\xff\xff\xff\xff", "invalid"),
    "bad_ref": (b"[\x01\x00\x00\x00r\x00\x00\x00\x00", "invalid"),
    "ref_out_of_range": (b"[\x02\x00\x00\x00\xe9\x01\x00\x00\x00r\x05\x00\x00\x00", "invalid"),
    "cycle": (b"\xdb\x01\x00\x00\x00r\x00\x00\x00\x00", "unsupported"),
    "unnormalized_long": (b"l\x02\x00\x00\x00\x01\x00\x00\x00", "invalid"),
    "long_digit_out_of_range": (b"l\x01\x00\x00\x00\x00\x80", "invalid"),
    "ascii_high_byte": (b"z\x01\xe9", "invalid"),
    "ascii_utf8_bytes": (b"z\x02\xc3\xa9", "invalid"),  # CPython would read it as Latin-1
    "dict_key_without_value": (b"{z\x01a0", "invalid"),
    "dict_unterminated": (b"{z\x01aN", "truncated"),
}
for name in ["record", "records", "nested", "str_unicode", "long_2_45", "float"]:
    full = marshal.dumps(GOOD[name], 4)
    for cut in sorted({1, len(full) // 2, len(full) - 1}):
        BAD[f"{name}_cut_at_{cut}"] = (full[:cut], "truncated")

def version(name):
    for v in (2, 3):
        if name.endswith(f"_v{v}"):
            return v
    return 4


cases = {
    "python": sys.version.split()[0],
    "good": [{"name": n, "marshal": marshal.dumps(v, version(n)).hex(), "want": canon(v)}
             for n, v in GOOD.items()],
    "bad": [{"name": n, "marshal": b.hex(), "error": e} for n, (b, e) in BAD.items()],
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.json")
with open(out, "w") as f:
    json.dump(cases, f, indent=1)
    f.write("\n")

"""What Swift checks when it loads the library: the contract version and every API checksum
written into StrideguardFFI.swift must be the library's."""

import ctypes
import os
import re

import strideguard as sg


def test_swift_bindings_match_the_library():
    swift_dir = os.environ["STRIDEGUARD_SWIFT_DIR"]
    swift = open(os.path.join(swift_dir, "StrideguardFFI.swift")).read()
    lib = ctypes.CDLL(os.path.join(os.path.dirname(sg.__file__), "libstrideguard_ffi.so"))
    checks = re.findall(r"(uniffi_strideguard_ffi_checksum_\w+)\(\) != (\d+)", swift)
    assert len(checks) > 60
    for name, expected in checks:
        f = getattr(lib, name)
        f.restype = ctypes.c_uint16
        assert f() == int(expected), name
    contract = lib.ffi_strideguard_ffi_uniffi_contract_version
    contract.restype = ctypes.c_uint32
    expected = re.search(r"let bindings_contract_version = (\d+)", swift)
    assert expected and contract() == int(expected.group(1))


def test_no_unsigned_integers_or_unit_suffixed_names_reach_kotlin():
    """Kotlin and Swift idioms: signed integers in the API (Long/Int, not ULong/UByte), and
    field names a developer would write (not `tS`)."""
    kotlin = open(os.path.join(os.environ["STRIDEGUARD_SWIFT_DIR"], "../kotlin-jvm/org/strideguard/strideguard.kt")).read()
    public = [
        line
        for line in kotlin.splitlines()
        if re.match(r"\s*(data class|class|fun|suspend fun|var|val) ", line.strip() + " ") and "internal" not in line
    ]
    api = "\n".join(l for l in public if "FfiConverter" not in l and "allocationSize" not in l and "Rust" not in l)
    for unsigned in ("UByte", "UShort", "UInt", "ULong"):
        assert not re.search(rf":\s*kotlin\.{unsigned}\b|:\s*{unsigned}\b", api), unsigned
    assert not re.search(r"`[a-z]+S`|\btS\b", api)

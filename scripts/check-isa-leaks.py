#!/usr/bin/env python3
"""Fails when code built for AVX2 or AVX-512 can run outside its own files.

  check-isa-leaks.py BUILD_DIR

Only the functions defined by the instruction-set objects (*_avx2.cpp.o,
*_avx512.cpp.o of the object libraries NAME_avx2 and NAME_avx512, renamed by
cmake/isa_object.sh) may contain VEX (AVX, AVX2,
FMA, F16C) or EVEX (AVX-512) instructions; every other function of every
executable in BUILD_DIR is baseline x86-64, or a CPU without those extensions
would die with SIGILL in it. Each executable is disassembled with objdump and
every instruction's encoding read off its bytes: 0x62 starts EVEX, 0xc4/0xc5
start VEX (in 64-bit mode, after any segment or address-size prefix).
Prints what it checked and exits 1 naming each function that breaks the rule.
"""
import os
import re
import subprocess
import sys

SKIPPED_PREFIXES = {0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x67}
FUNCTION = re.compile(r"^[0-9a-f]+ <(.+)>:$")
INSTRUCTION = re.compile(r"^\s*[0-9a-f]+:\t((?:[0-9a-f]{2} )+)")


def private_functions(obj, isa):
    """The functions of an ISA object that no other file can share: its entry
    points (T), its local functions (t) and the weak ones renamed for the ISA.
    A weak function under its own name (an inline or template instantiation
    that escaped the renaming) is not among them: the linker may pick it for
    every caller."""
    out = subprocess.run(["nm", "--defined-only", "-P", obj], check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        name, kind = line.split()[:2]
        if kind in ("T", "t") or (kind == "W" and name.endswith(f".isa_{isa}")):
            names.add(name)
    return names


def isa_objects(build_dir):
    allowed = {"avx2": set(), "avx512": set()}
    count = 0
    for folder, _, files in os.walk(build_dir):
        for f in files:
            for isa in allowed:
                # Only the objects of the NAME_isa object libraries (cmake/agentd_library.cmake).
                in_target = any(part.endswith(f"_{isa}.dir") for part in folder.split(os.sep))
                if f.endswith(f"_{isa}.cpp.o") and in_target:
                    allowed[isa] |= private_functions(os.path.join(folder, f), isa)
                    count += 1
    return allowed, count


def executables(build_dir):
    for folder, dirs, files in os.walk(build_dir):
        dirs[:] = [d for d in dirs if d != "CMakeFiles"]
        for f in sorted(files):
            path = os.path.join(folder, f)
            if not os.access(path, os.X_OK) or os.path.islink(path):
                continue
            with open(path, "rb") as fh:
                if fh.read(4) == b"\x7fELF":
                    yield path


def encoding(hex_bytes):
    for b in hex_bytes.split():
        v = int(b, 16)
        if v in SKIPPED_PREFIXES:
            continue
        if v == 0x62:
            return "evex"
        if v in (0xC4, 0xC5):
            return "vex"
        return None
    return None


def leaks(binary, allowed):
    avx2_or_512 = allowed["avx2"] | allowed["avx512"]
    found = {}
    current = None
    proc = subprocess.Popen(["objdump", "-d", "-w", "--insn-width=15", binary], stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        m = FUNCTION.match(line)
        if m:
            current = m.group(1)
            continue
        m = INSTRUCTION.match(line)
        if not m or current is None:
            continue
        kind = encoding(m.group(1))
        if kind == "evex" and current not in allowed["avx512"]:
            found.setdefault(current, line.strip())
        elif kind == "vex" and current not in avx2_or_512:
            found.setdefault(current, line.strip())
    if proc.wait() != 0:
        raise SystemExit(f"check-isa-leaks: objdump failed on {binary}")
    return found


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    build_dir = sys.argv[1]
    allowed, n_objects = isa_objects(build_dir)
    if n_objects == 0:
        raise SystemExit(f"check-isa-leaks: no *_avx2.cpp.o / *_avx512.cpp.o under {build_dir}")
    binaries = list(executables(build_dir))
    if not binaries:
        raise SystemExit(f"check-isa-leaks: no executable under {build_dir}")
    bad = 0
    for binary in binaries:
        found = leaks(binary, allowed)
        for function, line in sorted(found.items()):
            print(f"check-isa-leaks: {binary}: {function} is outside the ISA files but has: {line}")
        bad += len(found)
    names = ", ".join(os.path.relpath(b, build_dir) for b in binaries)
    print(f"check-isa-leaks: {len(binaries)} executables ({names}), {n_objects} ISA objects, "
          f"{len(allowed['avx2'])} + {len(allowed['avx512'])} ISA functions: {bad} leaks")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

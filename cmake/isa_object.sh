#!/usr/bin/env bash
# Compiler launcher for the instruction-set files (*_avx2.cpp, *_avx512.cpp):
#   isa_object.sh ISA [ccache] COMPILER ARGS... -o OBJECT ...
# Runs the compile, then renames every function the object defines that the
# linker could otherwise merge with another file's copy: inline and template
# instantiations (weak, COMDAT; std::vector<float>'s code, say), local
# functions and the signatures of their COMDAT groups get the suffix
# ".isa_ISA". Code compiled for AVX2 or AVX-512 then can only be reached
# through the file's own entry points, which must name their instruction set
# (fill_avx512_kernels); a strong global function that does not is an error.
# scripts/check-isa-leaks.py checks the linked binaries.
set -euo pipefail
isa=$1
shift
if [ -z "${1:-}" ]; then shift; fi  # no ccache: CMake passes an empty word

"$@"

out=""
prev=""
for arg in "$@"; do
  if [ "$prev" = "-o" ]; then out=$arg; fi
  prev=$arg
done
if [ -z "$out" ] || [ ! -f "$out" ]; then exit 0; fi

suffix=".isa_$isa"
renames=$(mktemp)
trap 'rm -f "$renames" "$out.isa.tmp"' EXIT

# nm -P: NAME TYPE [VALUE SIZE]. W: weak (inline/template) function; t: local
# function. T: a strong global function, allowed only when it names the ISA.
# COMDAT groups named by a local, untyped symbol (constructor and destructor
# groups, C5/D5) are renamed too, so the linker never takes this file's group
# for another file's. Groups named by weak data (V, u) stay: data is not code.
{
  nm --defined-only -P "$out" | sed 's/^/symbol /'
  readelf -g -W "$out" | sed -n 's/^COMDAT group section \[ *[0-9]*\] `.group'"'"' \[\(.*\)\] contains.*/group \1/p'
} | awk -v isa="$isa" -v suffix="$suffix" -v src="$out" '
  $1 == "symbol" { type[$2] = $3 }
  $1 == "symbol" && ($3 == "W" || $3 == "t") { renamed[$2] = 1; print $2 " " $2 suffix }
  $1 == "symbol" && $3 == "T" && index($2, isa) == 0 {
    print "isa_object.sh: " src " exports " $2 ", which does not name " isa > "/dev/stderr"; bad = 1
  }
  $1 == "group" { groups[$2] = 1 }
  END {
    for (g in groups) if (!(g in renamed) && type[g] != "V" && type[g] != "u") print g " " g suffix
    exit bad
  }' > "$renames"

objcopy --redefine-syms="$renames" "$out" "$out.isa.tmp"
mv -f "$out.isa.tmp" "$out"

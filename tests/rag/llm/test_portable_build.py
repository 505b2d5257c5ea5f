"""The bundled model's llama.cpp is built for any x86-64 CPU with AVX2, whatever the build machine reports.

Read from the installed machine code, so it holds on any machine: a native build on a CPU with AVX-512 or AMX
would hold their instructions, and dies on a VM that reports them but faults when they run."""

from __future__ import annotations

import importlib.util
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

# AVX-512: its 512-bit registers, and its opmask registers (which AVX-512VL uses on xmm/ymm as well).
AVX512 = re.compile(r"%zmm\d+|\{%k[1-7]\}|%k[0-7]\b")
# AMX: its tile registers and instructions.
AMX = re.compile(
    r"%tmm\d|\b(?:ldtilecfg|sttilecfg|tileloadd\w*|tilestored|tilerelease|tilezero|tdpb[su]{2}d|tdp\w+ps)\b"
)


def cpu_libraries() -> list[Path]:
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llama-cpp-python is not installed (`make bundled`; `make test` installs it)")
    libraries = sorted(
        {p.resolve() for p in Path(next(iter(spec.submodule_search_locations)), "lib").glob("libggml-cpu*.so*")}
    )
    assert libraries, "llama-cpp-python has no libggml-cpu library"
    return libraries


def disassembly(library: Path) -> str:
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("objdump is not installed (Debian's binutils)")
    command = [objdump, "-d", "--no-show-raw-insn", str(library)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the portable baseline is an x86-64 one")
def test_the_cpu_backend_has_no_avx512_and_no_amx_instructions():
    for library in cpu_libraries():
        code = disassembly(library)
        assert "vfmadd" in code and "%ymm" in code, f"{library.name} has no AVX2/FMA code: not the intended build"
        assert not AVX512.findall(code), f"{library.name} uses AVX-512: {sorted(set(AVX512.findall(code)))[:5]}"
        assert not AMX.findall(code), f"{library.name} uses AMX: {sorted(set(AMX.findall(code)))[:5]}"


def test_the_patterns_find_what_they_look_for():
    """The check above could pass by matching nothing: these lines are what objdump prints for such code."""
    assert AVX512.search("vaddps %zmm1,%zmm2,%zmm3")
    assert AVX512.search("vmovups %ymm0,(%rax){%k1}")
    assert AMX.search("tdpbssd %tmm2,%tmm1,%tmm0") and AMX.search("ldtilecfg (%rdi)")
    assert not AVX512.search("vfmadd231ps %ymm2,%ymm1,%ymm0") and not AMX.search("vpdpbusd %ymm1,%ymm2,%ymm3")

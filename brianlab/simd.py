"""Vectorised C++ math for cpp_standalone: Brian functions whose support code lets GCC use libmvec.

Brian compiles with ``-fno-finite-math-only``, under which glibc does not declare its
vector ``exp``/``expm1`` (libmvec), so GCC leaves loops that call them scalar. The support
code of the functions made here declares them with ``__simd__`` at file scope (outside
the anonymous namespace Brian wraps support code in), once per file. With
``ivdep=True`` it also marks every later ``for`` of the code object (its main loop over
the cells) ``#pragma GCC ivdep``, for loops whose iterations GCC cannot prove
independent; no pragma may follow Brian's ``#pragma omp parallel for``, so that is left
out of OpenMP builds. Everything is guarded for GCC, glibc and x86-64; elsewhere the
code is the plain scalar code.

A model asks :attr:`brianlab.devices.DeviceSession.simd` whether to use them, and never
tests a device name itself.
"""

from __future__ import annotations

from collections.abc import Callable

import brian2 as b2

__all__ = ["simd_function", "VECTOR_MATH_CPP", "IVDEP_LOOPS_CPP"]

#: File-scope declarations of glibc's vector exp and expm1 (once per generated file).
VECTOR_MATH_CPP = """
}  // file scope for the declarations
#ifndef BRIANLAB_VECTOR_MATH
#define BRIANLAB_VECTOR_MATH
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
extern "C" {
double exp(double) noexcept(true) __attribute__((__simd__("notinbranch")));
double expm1(double) noexcept(true) __attribute__((__simd__("notinbranch")));
}
#endif
#endif
namespace {
"""

#: Marks every later ``for`` of the file ``GCC ivdep`` (not under OpenMP).
IVDEP_LOOPS_CPP = """
}  // file scope for the macro
#ifndef BRIANLAB_IVDEP_LOOPS
#define BRIANLAB_IVDEP_LOOPS
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && !defined(_OPENMP)
#define for _Pragma("GCC ivdep") for
#endif
#endif
namespace {
"""


def simd_function(name: str, pyfunc: Callable, cpp_body: str, ivdep: bool = False) -> b2.Function:
    """A dimensionless one-argument Brian function ``name`` whose C++ is ``cpp_body``.

    Parameters
    ----------
    name : str
        The function's name in equations and in the generated C++.
    pyfunc : callable
        Its NumPy implementation (runtime and the checks Brian makes).
    cpp_body : str
        The C++ definition, ``static inline double NAME(double x) {...}``; it may
        call ``exp`` and ``expm1``, which are vectorised.
    ivdep : bool
        Also mark the loops of every code object that uses it ``GCC ivdep``.
    """
    support = VECTOR_MATH_CPP + (IVDEP_LOOPS_CPP if ivdep else "") + cpp_body
    function = b2.Function(pyfunc, arg_units=[1], return_unit=1)
    function.implementations.add_implementation("cpp", code=support, name=name)
    return function
